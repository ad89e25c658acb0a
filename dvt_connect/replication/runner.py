"""Run a replication: every stream a transfer, several at once on one Spark session.

Each stream runs in a thread of its own (``threads`` at a time), its Spark jobs in a scheduler
pool of its own (the ``spark.scheduler.pool`` local property, set per thread), so under the FAIR
scheduler a big table does not starve the small ones. Each stream is planned and executed by the
transfer's own planner and runner (retries, staging, stats included); a failing stream is
recorded and the others go on. The results are returned and written to
``$DVT_HOME/runs/<run id>/run_results.json``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_connect.adapters import NativeFacts
from dvt_connect.config import Connection, Project, load_project
from dvt_connect.errors import DvtError, NotFoundError, UsageError
from dvt_connect.replication.catalog import JdbcCatalog
from dvt_connect.replication.plan import StreamPlan, plan_streams
from dvt_connect.replication.results import (
    ERROR,
    PLANNED,
    SUCCESS,
    RunResults,
    StreamResult,
    Verification,
    last_failed,
    new_run_id,
)
from dvt_connect.replication.spec import ReplicationSpec, load_spec, parse_spec
from dvt_connect.replication.verify import LEVELS, check_level, verify_stream
from dvt_connect.secrets import redact
from dvt_connect.spark import is_connect, shares_server
from dvt_connect.transfer.run import execute_transfer, plan_transfer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.console import Console, RunDisplay
    from dvt_connect.retry import RetryConfig

POOL_PROPERTY = "spark.scheduler.pool"


@dataclass(frozen=True)
class RunOptions:
    """How to run a replication (`dvt run`'s options)."""

    threads: int = 4
    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # None: no verification; "counts" (``--verify``) or "checksum" (``--verify checksum``)
    verify: str | bool | None = None
    dry_run: bool = False
    retry_failed: bool = False
    retry: RetryConfig | None = None

    def __post_init__(self) -> None:
        if isinstance(self.verify, bool):  # RunOptions(verify=True): counts
            object.__setattr__(self, "verify", "counts" if self.verify else None)
        if self.verify is not None and self.verify not in LEVELS:
            raise UsageError(f"--verify takes {' or '.join(LEVELS)}, not `{self.verify}`.")
        if self.threads < 1:
            raise UsageError(f"--threads must be at least 1, not {self.threads}.")


def run_replication(
    spark: SparkSession,
    spec: ReplicationSpec | Mapping[str, Any] | str | Path,
    *,
    project: Project | None = None,
    options: RunOptions | None = None,
    console: Console | None = None,
    runs_directory: Path | None = None,
    jars: tuple[str, ...] = (),
    native_unavailable: Callable[[NativeFacts], str | None] | None = None,
) -> RunResults:
    """The Python API: run ``spec`` (a parsed spec, a dict, or a file) on the caller's session
    and return the results (also written to ``$DVT_HOME/runs/<run id>/``, unless a dry run)."""
    from dvt_connect.console import CaptureConsole

    options = options or RunOptions()
    console = console or CaptureConsole()
    if isinstance(spec, (str, Path)):
        spec = load_spec(spec)
    elif not isinstance(spec, ReplicationSpec):
        spec = parse_spec(spec)
    project = project or load_project()
    source, target = (output(project, spec, "source"), output(project, spec, "target"))
    if options.verify is not None:
        check_level(str(options.verify), source, target)
    streams = _plan(spark, spec, source, target, options)
    started = time.time()
    run_id = new_run_id()
    if options.retry_failed:
        previous, failed = last_failed(spec.name, runs_directory)
        gone = sorted(set(failed) - {s.name for s in streams})
        if gone:
            console.warn("streams that failed last time are no longer in the replication "
                         "file (or were not selected): " + ", ".join(gone))
        streams = [s for s in streams if s.name in failed]
        console.info(f"retrying {len(streams)} stream(s) that failed in {previous.parent.name}")
    if not options.dry_run and options.threads > 1 and len(streams) > 1:
        mode = spark.conf.get("spark.scheduler.mode", "FIFO")
        if str(mode).upper() != "FAIR":
            console.warn(f"this Spark session schedules jobs {mode}, so a large stream can hold "
                         "every core while small ones wait; start it with "
                         "spark.scheduler.mode=FAIR to give each stream its own pool a share")
    runner = _Runner(spark, project, source, target, options, console, jars, native_unavailable)
    results = runner.run(streams, title=f"dvt run {spec.name}")
    run = RunResults(
        run_id=run_id, replication_file=spec.name, started=started, completed=time.time(),
        results=results, dry_run=options.dry_run,
        args={"source": spec.source, "target": spec.target, "threads": options.threads,
              "select": list(options.select), "exclude": list(options.exclude),
              "verify": options.verify, "retry_failed": options.retry_failed},
    )
    if not options.dry_run and results:
        run.write(runs_directory)
    return run


def output(project: Project, spec: ReplicationSpec, key: str) -> Connection:
    """The output the file's `source:` or `target:` names; an unknown one names the file."""
    name = spec.source if key == "source" else spec.target
    if name not in project.output_names:
        raise NotFoundError("output", name, project.output_names, path=spec.path, key=key)
    return project.connection(name)


def _plan(spark: SparkSession, spec: ReplicationSpec, source: Connection, target: Connection,
          options: RunOptions) -> list[StreamPlan]:
    kwargs: dict[str, Any] = {"source_name": source.name, "target_schema": target.schema,
                              "target_is_files": target.is_files, "select": options.select,
                              "exclude": options.exclude}
    if source.is_files:
        return plan_streams(spec, None, **kwargs)
    with JdbcCatalog(spark, source) as catalog:
        return plan_streams(spec, catalog, **kwargs)


class _Runner:
    def __init__(self, spark: SparkSession, project: Project, source: Connection,
                 target: Connection, options: RunOptions, console: Console,
                 jars: tuple[str, ...],
                 native_unavailable: Callable[[NativeFacts], str | None] | None) -> None:
        self.spark, self.project = spark, project
        self.source, self.target = source, target
        self.options, self.console = options, console
        self.jars, self.native_unavailable = jars, native_unavailable

    def run(self, streams: Sequence[StreamPlan], *, title: str) -> list[StreamResult]:
        if not streams:
            return []
        threads = min(self.options.threads, len(streams))
        with self.console.run_progress(title, len(streams)) as display, \
                ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dvt-stream") as pool:
            futures = [pool.submit(self._stream, s, display) for s in streams]
            try:
                return [f.result() for f in futures]
            except KeyboardInterrupt:
                for future in futures:
                    future.cancel()
                if shares_server(self.spark):  # this session's operations, not the server's
                    self.spark.interruptAll()
                else:
                    self.spark.sparkContext.cancelAllJobs()
                raise

    def _stream(self, stream: StreamPlan, display: RunDisplay) -> StreamResult:
        # Spark Connect runs each operation in the server's session: no JVM thread to pin, and
        # no scheduler pool per stream (the server's scheduler shares its cores)
        sc = None if is_connect(self.spark) else self.spark.sparkContext
        if sc is not None:
            _activate(self.spark)
            sc.setLocalProperty(POOL_PROPERTY, stream.pool)
        display.start(stream.name)
        result = StreamResult(stream=stream.name, status=ERROR,
                              source_table=str(stream.table) if stream.table else None,
                              target_table=str(stream.target_table), mode=stream.mode,
                              primary_key=stream.options.primary_key or (),
                              update_key=stream.options.update_key,
                              estimated_rows=stream.estimated_rows,
                              thread=threading.current_thread().name, plan_started=time.time())
        console = _StreamConsole(self.console, display, stream.name, result.warnings)
        try:
            self._move(stream, result, console)
        except Exception as exc:  # noqa: BLE001 - a failed stream is recorded, the run goes on
            result.status = ERROR
            result.message = _message(exc)
        finally:
            if sc is not None:
                sc.setLocalProperty(POOL_PROPERTY, None)  # type: ignore[arg-type]
            if result.plan_completed is None:
                result.plan_completed = time.time()
            if result.execute_started is not None and result.execute_completed is None:
                result.execute_completed = time.time()
            display.finish(stream.name, result.status != ERROR, _summary(result),
                           rows=result.rows or 0)
        return result

    def _move(self, stream: StreamPlan, result: StreamResult, console: Console) -> None:
        read, write = stream.read_request(), stream.write_request()
        plan, source_connector, target_connector = plan_transfer(
            self.spark, self.source, self.target, read, write, buckets=self.project.buckets,
            connector=stream.connector, preferred_bucket=self.project.bucket_target,
            console=console, jars=self.jars, native_unavailable=self.native_unavailable,
            allow_lossy=stream.options.allow_lossy or (),
        )
        result.plan_completed = time.time()
        result.connector = plan.read.connector.value
        result.partitions = len(plan.read.partitions)
        if plan.incremental is not None:
            mark, since = plan.incremental.high_water_mark, plan.incremental.read_from
            result.previous_high_water_mark = None if mark is None else str(mark)
            result.read_from = None if since is None else str(since)
            result.null_update_keys = plan.incremental.null_update_keys
        if self.options.dry_run:
            result.plan = plan.describe()
            result.high_water_mark = result.previous_high_water_mark
            result.status = PLANNED
            return
        result.execute_started = time.time()
        stats = execute_transfer(
            self.spark, plan, source_connector, target_connector, retry=self.options.retry,
            console=console,
            planning_seconds=(result.plan_completed - (result.plan_started or 0.0)),
        )
        result.execute_completed = time.time()
        result.rows, result.bytes, result.bytes_kind = stats.rows, stats.bytes, stats.bytes_kind
        result.target_connector = stats.target_connector.value
        result.retries = stats.retries
        result.inserted, result.updated = stats.inserted, stats.updated
        if stream.options.update_key is not None and stream.mode == "incremental":
            result.high_water_mark = stats.high_water_mark
        result.status = SUCCESS
        level = None if self.options.verify is None else str(self.options.verify)
        if level is not None:
            try:
                result.verify = verify_stream(self.spark, self.project, self.source,
                                              self.target, stream, plan, source_connector,
                                              stats.rows, level)
            except Exception as exc:  # noqa: BLE001 - a failed check fails the stream only
                result.verify = Verification(None, None, stats.rows, stream.mode, level=level,
                                             error=_message(exc))
            failure = result.verify.failure()
            if failure is not None:  # the move ran, but the target is not what it should be
                result.status, result.message = ERROR, failure


class _StreamConsole:
    """The run's console as one stream sees it: messages name the stream, and the transfer's
    progress bar becomes the stream's row in the run display."""

    def __init__(self, console: Console, display: RunDisplay, name: str,
                 warnings: list[str]) -> None:
        self._console, self._display, self._name = console, display, name
        self._warnings = warnings

    def info(self, message: str) -> None:
        self._console.info(f"{self._name}: {message}")

    def success(self, message: str) -> None:
        self._console.success(f"{self._name}: {message}")

    def warn(self, message: str) -> None:
        self._warnings.append(redact(message))
        self._console.warn(f"{self._name}: {message}")

    def error(self, message: str) -> None:
        self._console.error(f"{self._name}: {message}")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              *, styles: Sequence[str | None] | None = None) -> None:
        self._console.table(f"{self._name}: {title}", columns, rows, styles=styles)

    def json(self, document: Any) -> None:
        self._console.json(document)

    @contextlib.contextmanager
    def progress(self, description: str, total: float | None = None,
                 unit: str = "items") -> Iterator[Any]:
        yield _StreamBar(self._display, self._name)

    def run_progress(self, title: str, total: int) -> Any:
        raise UsageError("a stream cannot start a run of its own.")


class _StreamBar:
    def __init__(self, display: RunDisplay, name: str) -> None:
        self._display, self._name = display, name

    def advance(self, amount: float = 1) -> None:
        pass

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        if description:
            self._display.update(self._name, description)


def _activate(spark: SparkSession) -> None:
    """Make ``spark`` the active session of this thread's JVM thread. A thread PySpark pins to a
    new JVM thread has none, and Spark reads the session's SQL settings and finds Python data
    sources (the bulk paths) through the thread's active session only."""
    jvm: Any = spark._jvm
    jvm.org.apache.spark.sql.SparkSession.setActiveSession(spark._jsparkSession)


def _message(exc: BaseException) -> str:
    if isinstance(exc, DvtError):
        return redact(str(exc))
    text = str(exc).strip().splitlines()
    return redact(f"{type(exc).__name__}: {text[0] if text else ''}"[:500])


def _summary(result: StreamResult) -> str:
    if result.status == ERROR:
        return result.message or "failed"
    if result.status == PLANNED:
        return f"planned ({result.connector}, {result.partitions} partition(s))"
    seconds = result.execution_time
    rows = result.rows or 0
    rate = rows / seconds if seconds > 0 else 0.0
    text = f"{rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s)"
    if result.verify is not None:
        text += f", {result.verify.summary()}"
    return text
