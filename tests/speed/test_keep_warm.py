"""The warm server keeps its Python workers started while idle (:class:`dvt_connect.warm_up.
KeepWarm`): Spark stops Python workers after a minute without a task, and a client's first
transfer after such a pause would fork and import them again."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dvt_connect import warm_up

pytestmark = [pytest.mark.spark]

# a fresh local session (nothing else runs a task in it): its Python workers' PIDs, then again
# after IDLE seconds without a task of its own, with or without KeepWarm
IDLE = 80.0  # Spark's idle limit is a minute, checked every few seconds
SCRIPT = textwrap.dedent("""
    import json, os, sys, threading, time
    os.environ["PYSPARK_PYTHON"] = sys.executable  # as dvt's own sessions on a local master
    from pyspark.sql import SparkSession
    from dvt_connect.warm_up import KeepWarm

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")

    def pid(_):
        import os
        yield os.getpid()

    def workers():
        return set(spark.sparkContext.parallelize(range(2), 2).mapPartitions(pid).collect())

    before = workers()
    stopping = threading.Event()
    keeper = KeepWarm(spark, 20.0, stopping) if sys.argv[1] == "keep" else None
    time.sleep(float(sys.argv[2]))
    after = workers()
    stopping.set()
    print(json.dumps([sorted(before), sorted(after), keeper.runs if keeper else 0]))
    spark.stop()
""")


def test_an_idle_sessions_workers_live_on_with_keep_warm_and_are_stopped_without(
        tmp_path: Path) -> None:
    runs = {kind: subprocess.Popen([sys.executable, "-c", SCRIPT, kind, str(IDLE)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   cwd=tmp_path)
            for kind in ("keep", "none")}
    seen = {}
    for kind, process in runs.items():
        out, err = process.communicate(timeout=IDLE + 240)
        assert process.returncode == 0, err[-3000:]
        seen[kind] = json.loads(out.strip().splitlines()[-1])
    (kept_before, kept_after, runs_done), (none_before, none_after, _) = seen["keep"], seen["none"]
    assert set(kept_after) <= set(kept_before), seen  # no worker forked anew
    assert runs_done >= 3, seen
    # the control: without it, Spark stopped the idle workers and forked new ones
    assert not set(none_after) & set(none_before), seen


def test_keep_warm_runs_the_workers_step_while_idle_and_stops_when_told(spark: Any) -> None:
    stopping = threading.Event()
    keeper = warm_up.KeepWarm(spark, 0.2, stopping, log=lambda _: None)
    deadline = time.monotonic() + 60
    while keeper.runs < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert keeper.runs >= 2 and keeper.failure is None
    stopping.set()
    keeper.thread.join(10)
    assert not keeper.thread.is_alive()


def test_a_failing_step_is_logged_once_a_series_and_the_loop_goes_on(
        spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def broken(_: Any, **__: Any) -> bool:
        calls.append(1)
        if len(calls) <= 3:
            raise TimeoutError("the Python workers did not start within 60 s")
        return True

    monkeypatch.setattr(warm_up, "python_workers", broken)
    lines: list[str] = []
    stopping = threading.Event()
    keeper = warm_up.KeepWarm(spark, 0.05, stopping, log=lines.append)
    deadline = time.monotonic() + 30
    while keeper.runs < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    stopping.set()
    keeper.thread.join(10)
    assert keeper.runs >= 5 and keeper.failure is None  # the series ended: it works again
    assert lines == ["dvt-connect: keeping the Python workers started failed (TimeoutError: the "
                     "Python workers did not start within 60 s); trying again every 0.05 s"]
