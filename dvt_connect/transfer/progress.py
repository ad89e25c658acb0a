"""Live progress of the running Spark action: tasks done of total, rows so far where known.

A background thread polls Spark's status tracker (and the JVM status store for record counts)
and reports to the console; nothing here touches the data.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dvt_connect import interrupts

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.console import Console

POLL_SECONDS = 0.5
STOP_SECONDS = 50.0  # a cancelled task stops at its next row batch or JDBC call


@contextmanager
def track(spark: SparkSession, console: Console | None, description: str,
          job_group: str) -> Iterator[None]:
    """Show progress of the jobs in ``job_group`` while the body runs. A signal (SIGINT,
    SIGTERM) cancels the group's jobs and waits for them before the body's clean-up runs."""
    from dvt_connect.spark import is_connect

    if is_connect(spark):
        with _connect_track(spark, console, description, job_group):
            yield
        return
    from dvt_connect import attach

    sc = spark.sparkContext
    sc.setJobGroup(job_group, description, interruptOnCancel=True)
    attach.job_group(spark, job_group, running=True)
    try:
        with interrupts.stopping(lambda: stop_jobs(spark, job_group)):
            if console is None:
                yield
                return
            stop = threading.Event()
            with console.progress(description, total=None, unit="tasks") as bar:
                thread = threading.Thread(target=_poll, args=(spark, bar, job_group, stop),
                                          daemon=True)
                thread.start()
                try:
                    yield
                finally:
                    stop.set()
                    thread.join(timeout=5)
    finally:
        attach.job_group(spark, job_group, running=False)
        with contextlib.suppress(Exception):  # the JVM may be gone
            sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]


COARSE = "Spark Connect: progress is coarse (no task counts)"


@contextmanager
def _connect_track(spark: Any, console: Console | None, description: str,
                   tag: str) -> Iterator[None]:
    """Spark Connect shows its client no tasks: a bar that says the action runs (and that
    progress is coarse), and a signal interrupts the operations tagged ``tag``."""
    spark.addTag(tag)
    try:
        with interrupts.stopping(lambda: spark.interruptTag(tag)):
            if console is None:
                yield
                return
            with console.progress(description, total=None, unit="tasks") as bar:
                bar.update(description=f"moving ({COARSE})")
                yield
    finally:
        with contextlib.suppress(Exception):
            spark.removeTag(tag)


def stop_jobs(spark: SparkSession, job_group: str, timeout: float = STOP_SECONDS) -> None:
    """Cancel the group's jobs and wait (up to ``timeout``) until none of them runs."""
    deadline = time.monotonic() + timeout
    sc = spark.sparkContext
    sc.cancelJobGroup(job_group)
    tracker = sc.statusTracker()
    while time.monotonic() < deadline:
        # a cancelled job is marked failed at once; its tasks stop a little later
        jobs = [tracker.getJobInfo(j) for j in tracker.getJobIdsForGroup(job_group)]
        stages = [tracker.getStageInfo(s) for job in jobs if job is not None
                  for s in job.stageIds]
        if not any(job is not None and job.status == "RUNNING" for job in jobs) and not any(
                stage is not None and stage.numActiveTasks for stage in stages):
            return
        time.sleep(0.1)


def _poll(spark: SparkSession, bar: Any, job_group: str, stop: threading.Event) -> None:
    tracker = spark.sparkContext.statusTracker()
    while not stop.wait(POLL_SECONDS):
        try:
            done = total = 0
            stage_ids: list[int] = []
            for job_id in tracker.getJobIdsForGroup(job_group):
                job = tracker.getJobInfo(job_id)
                if job is None:
                    continue
                for stage_id in job.stageIds:
                    stage = tracker.getStageInfo(stage_id)
                    if stage is not None:
                        done += stage.numCompletedTasks
                        total += stage.numTasks
                        stage_ids.append(stage_id)
            rows = _records_so_far(spark, stage_ids)
            text = f"moving: {done}/{total} tasks" + (f", {rows:,} rows" if rows else "")
            bar.update(completed=done, total=total or None, description=text)
        except Exception:  # noqa: BLE001 - progress must never break a transfer
            continue


def _records_so_far(spark: SparkSession, stage_ids: list[int]) -> int:
    """Records written by the given stages so far, from the JVM status store (0 if unknown)."""
    if not stage_ids:
        return 0
    try:
        store = spark.sparkContext._jsc.sc().statusStore()
        total = 0
        for stage_id in stage_ids:
            stages = store.stageData(stage_id, False, None, False, None)
            for i in range(stages.size()):
                stage = stages.apply(i)
                total += max(stage.outputRecords(), stage.inputRecords())
        return int(total)
    except Exception:  # noqa: BLE001 - a status-store API difference only loses the row figure
        return 0
