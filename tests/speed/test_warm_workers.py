"""The Arrow route's Python workers start, and import what the move's tasks need, while the
driver plans (``executors.warm_python_workers``), or from the moment the context runs, while the
SparkSession is built (``SessionSpec.warm_workers``): checked in fresh local sessions, where the
move's tasks are the first to ask for workers after the warm-up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dvt_connect import spark as spark_mod
from dvt_connect.config.profiles import parse_connection
from dvt_connect.transfer.job import arrow_task_modules

pytestmark = [pytest.mark.spark]

# printed last by each script: whether each of two tasks found the module imported
SEEN = """
    def seen(items):
        import sys
        yield "xml.dom.minidom" in sys.modules

    print(spark.sparkContext.parallelize(range(2), 2).mapPartitions(seen).collect())
"""

SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["PYSPARK_PYTHON"] = sys.executable  # as dvt's own sessions on a local master
    from pyspark.sql import SparkSession
    from dvt_connect.executors import warm_python_workers

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    thread = warm_python_workers(spark, ["xml.dom.minidom", "no_such_module_dvt"])
    assert thread.join(timeout=120)  # the start ended
""" + SEEN + """    spark.stop()
""")


def test_the_workers_a_warm_up_started_serve_the_next_tasks(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    # both tasks ran in workers that had imported the module (a module that cannot be imported
    # is skipped: the move reports it)
    assert done.stdout.strip().splitlines()[-1] == "[True, True]", done.stdout


EARLY = textwrap.dedent("""
    import time
    from pyspark.sql import SparkSession
    from dvt_connect import executors, spark as spark_mod

    times = {}

    def timed(name, inner, at_end):
        def call(*args, **kwargs):
            if not at_end:
                times[name] = time.monotonic()
            result = inner(*args, **kwargs)
            if at_end:
                times[name] = time.monotonic()
            return result
        return call

    # when the workers' job was begun, and when the SparkSession was built
    executors._start_workers = timed("workers", executors._start_workers, False)
    SparkSession.__init__ = timed("session", SparkSession.__init__, True)

    spec = spark_mod.session_spec(master="local[2]", quick_jit=True,
                                  worker_modules=["xml.dom.minidom"], warm_workers=True)
    spark = spark_mod.get_session(spec)
    start = spark_mod.take_worker_start()
    assert start is not None and spark_mod.take_worker_start() is None  # taken once
    assert start.join(timeout=120) and start.failure is None
    print("workers first", times["workers"] < times["session"])
""" + SEEN + """    spark_mod.stop_session()
""")


def test_the_workers_start_as_soon_as_the_context_runs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", EARLY], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path,
                          env={**os.environ, "DVT_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-2:] == ["workers first True",
                                                         "[True, True]"], done.stdout


def test_only_a_local_master_starts_its_workers_with_the_context() -> None:
    modules = ["xml.dom.minidom", "xml.dom.minidom", "json"]
    local = spark_mod.session_spec(master="local[2]", worker_modules=modules, warm_workers=True)
    assert local.warm_workers == ("xml.dom.minidom", "json")
    assert spark_mod.session_spec(master="local[2]", worker_modules=modules).warm_workers == ()
    for master in ("spark://127.0.0.1:7077", "sc://127.0.0.1:15002", "local-server"):
        assert spark_mod.session_spec(master=master, worker_modules=modules,
                                      warm_workers=True).warm_workers == ()


def test_the_warm_up_imports_what_each_end_of_the_move_needs(tmp_path: Path) -> None:
    def connection(name: str, data: dict[str, object]) -> object:
        return parse_connection(name, data, path=Path("profiles.yml"), key=f"t.outputs.{name}")

    pg = connection("pg", {"type": "postgres", "host": "h", "user": "u", "password": "",
                           "dbname": "d", "schema": "public"})
    lake = connection("lake", {"type": "files", "path": str(tmp_path), "format": "parquet"})
    modules = arrow_task_modules(pg, lake)  # type: ignore[arg-type]

    assert "dvt_connect.connectors.postgres_native.driver" in modules
    assert {"adbc_driver_postgresql", "pyarrow.parquet"} <= set(modules)
    assert "dvt_connect.connectors.arrow_bulk.direct" in modules
