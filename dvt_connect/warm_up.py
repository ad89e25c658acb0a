"""What a new warm server (:mod:`dvt_connect.connect_server`) runs once, before it answers: the
JVM code a first transfer would otherwise load and compile, and the Python workers it would
start, on its client's clock.

Measured here on a fresh server, each a client's first transfer against its second: a Parquet
folder's schema 0.69 s of planning against 0.20 s (Spark's footer reader and converter, 0.38 s
of it on their own); a JDBC source's read plan 0.60-0.86 s against 0.21-0.28 s (Spark's JDBC
relation and its first job), and 0.15-0.19 s against 0.02-0.04 s to open the first connection
(the driver's classes); the Python workers' start and imports about 1 s.

Nothing here reaches a database or a bucket: the JDBC steps run on an in-memory Derby database
(Spark ships Derby), the Parquet step on a file in a temporary folder. Each step is best effort:
one that fails costs the first transfer its head start, nothing else, and the server says which
failed in its log.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

WARM_DATABASE = "dvt-warm-up"
# the longest the server waits for its Python workers to start before it answers anyway
WORKERS_WAIT = 60.0
# how often the server runs its Python workers step again while no job runs: Spark stops the
# workers after a minute without a task
KEEP_WARM = 45.0


def warm_up(spark: Any) -> dict[str, str]:
    """Run every step on the server's own session; each step's seconds (``"0.42 s"``), or the
    type of the error that ended it."""
    steps: dict[str, Callable[[Any], object]] = {
        "JDBC drivers": load_drivers, "JDBC read": jdbc_read, "Parquet schema": parquet_schema,
        "Python workers": python_workers}
    done: dict[str, str] = {}
    for name, step in steps.items():
        started = time.perf_counter()
        try:
            step(spark)
        except Exception as exc:  # noqa: BLE001 - a warm-up step never stops the server
            done[name] = f"failed ({type(exc).__name__})"
        else:
            done[name] = f"{time.perf_counter() - started:.2f} s"
    return done


def load_drivers(spark: Any) -> list[str]:
    """Load and initialise the JDBC driver class of every database whose driver is on the
    server's class path (the synced jars and Spark's own); the names loaded."""
    from py4j.protocol import Py4JJavaError

    from dvt_connect.connectors.jdbc.session import driver_class_loader
    from dvt_connect.databases import DATABASES

    jvm = spark._jvm
    loader = driver_class_loader(jvm)
    loaded = []
    for name in sorted({db.driver_class for db in DATABASES.values() if db.driver_class}):
        try:
            jvm.java.lang.Class.forName(name, True, loader)
        except Py4JJavaError:
            continue  # not synced for this server
        loaded.append(name)
    return loaded


def jdbc_read(spark: Any) -> int:
    """Spark's JDBC source on a one-row table of common types in an in-memory Derby database:
    the schema read, then a job counting the rows; the database is dropped after."""
    from py4j.protocol import Py4JJavaError

    from dvt_connect.databases import database
    from dvt_connect.databases.derby import memory_url

    driver_class = database("derby").driver_class
    jvm = spark._jvm
    conn = jvm.java.sql.DriverManager.getConnection(memory_url(WARM_DATABASE, create=True))
    try:
        statement = conn.createStatement()
        statement.execute("CREATE TABLE warm (id BIGINT, name VARCHAR(20), amount DECIMAL(12,2),"
                          " stamp TIMESTAMP, day DATE, ratio DOUBLE)")
        statement.execute("INSERT INTO warm VALUES (1, 'a', 1.50, TIMESTAMP('2026-01-01 00:00:00'),"
                          " DATE('2026-01-01'), 0.5)")
        frame = (spark.read.format("jdbc").option("url", memory_url(WARM_DATABASE))
                 .option("dbtable", "warm").option("driver", driver_class).load())
        return int(frame.count())
    finally:
        conn.close()
        with contextlib.suppress(Py4JJavaError):  # Derby reports a dropped database so
            jvm.java.sql.DriverManager.getConnection(memory_url(WARM_DATABASE, drop=True))


def worker_modules() -> list[str]:
    """What the server's Python workers import: the Arrow route's task code and the bulk
    driver of every database with one in Python, and pyarrow's Parquet."""
    from dvt_connect.databases import DATABASES
    from dvt_connect.transfer.job import task_modules

    return task_modules((db.native for db in DATABASES.values()), files=True)


def python_workers(spark: Any, wait: float = WORKERS_WAIT,
                   modules: Iterable[str] | None = None) -> bool:
    """Start the server's Python daemon and workers, the workers importing what the Arrow
    route's tasks import for every database with a bulk driver in Python and for Parquet files
    (:class:`dvt_connect.executors.WorkerStart`). Attached clients' tasks run in them (a
    first transfer 2.2 s against 3.1 s at 1M rows PostgreSQL -> Parquet here); Spark stops
    workers idle for a minute, the daemon stays. Waits ``wait`` seconds at most: then the job
    is cancelled and the step fails with TimeoutError (the server answers all the same).
    ``modules``: what the workers import (default :func:`worker_modules`). Returns whether it
    started them: False off a classic local master, whose executors start their own."""
    from dvt_connect.executors import warm_python_workers

    start = warm_python_workers(spark, worker_modules() if modules is None else modules,
                                group=f"dvt-warm-up-{uuid.uuid4().hex[:8]}",
                                description="dvt server warm-up: Python workers")
    if start is None:
        return False  # not a classic local master: its executors start their own
    start.result(wait)
    return True


class KeepWarm:
    """The server's Python workers kept started: every ``every`` seconds in which no job runs,
    the workers step (:func:`python_workers`) runs again, on a thread of its own, until
    ``stopping`` is set. Spark stops Python workers idle for a minute (their daemon stays; a
    task resets that minute for all of them): without this, a client's first transfer after a
    minute's pause forked new workers, which imported the Arrow route's modules again (measured,
    1M rows Parquet -> PostgreSQL: 2.1-2.2 s after 70 s idle against 1.6-1.7 s). ``runs``
    counts the steps run, ``failure`` holds the last one's error (the server logs the first of a
    series)."""

    def __init__(self, spark: Any, every: float, stopping: threading.Event,
                 log: Callable[[str], None] = print) -> None:
        self.spark = spark
        self.every = every
        self.stopping = stopping
        self.log = log
        self.modules = worker_modules()  # derived once, not every step
        self.runs = 0
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="dvt-keep-warm", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        tracker = self.spark.sparkContext.statusTracker()
        while not self.stopping.wait(self.every):
            if tracker.getActiveJobsIds():
                continue  # a client's tasks keep the workers busy, and its job goes first
            try:
                python_workers(self.spark, modules=self.modules)
            except Exception as exc:  # noqa: BLE001 - the server goes on serving
                if self.failure is None:
                    self.log(f"dvt-connect: keeping the Python workers started failed "
                             f"({type(exc).__name__}: {exc}); trying again every "
                             f"{self.every:g} s")
                self.failure = exc
            else:
                self.failure = None
            self.runs += 1


def parquet_schema(spark: Any) -> object:
    """A local Parquet folder's schema as the files connector reads it, from a file in a
    temporary folder that is removed after."""
    from dvt_connect.connectors.files import warm_footer_reader

    with tempfile.TemporaryDirectory(prefix="dvt-warm-up-") as folder:
        return warm_footer_reader(spark, folder)
