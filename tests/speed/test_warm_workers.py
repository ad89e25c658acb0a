"""The Arrow route's Python workers start, and import what the move's tasks need, while the
driver plans (``executors.warm_python_workers``): checked in a fresh local session, where the
move's tasks are the first to ask for workers after the warm-up."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dvt_connect.config.profiles import parse_connection
from dvt_connect.transfer.job import arrow_task_modules

pytestmark = [pytest.mark.spark]

SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["PYSPARK_PYTHON"] = sys.executable  # as dvt's own sessions on a local master
    from pyspark.sql import SparkSession
    from dvt_connect.executors import warm_python_workers

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    thread = warm_python_workers(spark, ["xml.dom.minidom", "no_such_module_dvt"])
    assert thread.join(timeout=120)  # the start ended

    def seen(items):
        import sys
        yield "xml.dom.minidom" in sys.modules

    print(spark.sparkContext.parallelize(range(2), 2).mapPartitions(seen).collect())
    spark.stop()
""")


def test_the_workers_a_warm_up_started_serve_the_next_tasks(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    # both tasks ran in workers that had imported the module (a module that cannot be imported
    # is skipped: the move reports it)
    assert done.stdout.strip().splitlines()[-1] == "[True, True]", done.stdout


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
