"""A local master's Python workers import PySpark from its installation, compiled, not from the
source-only ``python/lib/pyspark.zip`` Spark puts first on their path, and are forked with the
modules the session names imported where no thread has started (:mod:`dvt_connect.spark_daemon`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.spark_daemon import (
    PRELOAD_ENV,
    installed_package_zips,
    preload_modules,
    without_zips,
)


def test_the_zips_dropped_are_those_of_an_installed_pyspark_package_only(tmp_path: Path) -> None:
    import pyspark

    home = Path(pyspark.__file__).parent
    assert installed_package_zips(str(home)) == {
        str(p) for p in (home / "python" / "lib").glob("*.zip")}
    assert any(p.endswith("pyspark.zip") for p in installed_package_zips(str(home)))
    # a Spark distribution (SPARK_HOME not an importable package): its zips are its PySpark
    dist = tmp_path / "spark-4.3.0-bin-hadoop3"
    (dist / "python" / "lib").mkdir(parents=True)
    (dist / "python" / "lib" / "pyspark.zip").write_bytes(b"")
    assert installed_package_zips(str(dist)) == set()
    assert installed_package_zips("") == set()


def test_the_zips_stay_when_pyspark_would_not_import_from_the_package_without_them(
        tmp_path: Path) -> None:
    import sys

    import pyspark

    home = Path(pyspark.__file__).parent
    zips = sorted(installed_package_zips(str(home)))
    path = [*zips, *sys.path]
    assert without_zips(path, str(home)) == [p for p in path if p not in zips]
    # an interpreter whose path has no installed PySpark (only the zips) keeps them
    assert without_zips([*zips, str(tmp_path)], str(home)) == [*zips, str(tmp_path)]


@pytest.mark.spark
def test_local_workers_import_pyspark_compiled_from_its_installation(spark: Any) -> None:
    import pyspark

    def where(_: Iterator[int]) -> Iterator[tuple[str, list[str]]]:
        import sys

        import pyspark.worker

        yield pyspark.worker.__file__ or "", [p for p in sys.path if p.endswith(".zip")]

    conf = spark.sparkContext.getConf()
    assert conf.get("spark.python.daemon.module") == "dvt_connect.spark_daemon"
    ((file, zips),) = spark.sparkContext.parallelize([0], 1).mapPartitions(where).collect()
    assert Path(file).parent == Path(pyspark.__file__).parent, file  # not .../pyspark.zip/...
    assert not [z for z in zips if z.endswith(("pyspark.zip", "-src.zip"))], zips


def test_the_daemon_preloads_pysparks_worker_and_no_threaded_package() -> None:
    assert preload_modules([]) == ["pyspark.worker"]
    assert preload_modules(["dvt_connect.connectors.arrow_bulk.tasks", "pyarrow", "psycopg",
                            "pyarrow.parquet", "numpy", "pandas.core", "psycopg"]) == [
        "pyspark.worker", "dvt_connect.connectors.arrow_bulk.tasks", "psycopg"]


def test_what_the_server_and_the_arrow_route_preload_starts_no_thread() -> None:
    """Every module a session may name (the server names all of them) imports without starting
    a thread, so the daemon forks its workers with them; pyarrow would start two."""
    import subprocess
    import sys

    probe = ("from dvt_connect.spark_daemon import preload, preload_modules, threads\n"
             "from dvt_connect.warm_up import worker_modules\n"
             "import sys\n"
             "wanted = preload_modules(worker_modules())\n"
             "print(preload(wanted), threads(), sorted(m for m in wanted if m in sys.modules))\n"
             "print(preload(['pyarrow']), threads() > 1)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120).stdout.splitlines()
    from dvt_connect.warm_up import worker_modules

    wanted = preload_modules(worker_modules())
    assert "dvt_connect.connectors.postgres_native.driver" in wanted
    assert out[0] == f"True 1 {sorted(wanted)}"  # all installed in the test environment
    assert out[1] == "False True"


def _modules_in_a_fresh_worker(spark: Any, preload: str) -> tuple[bool, bool, bool]:
    """A task's view of what its worker had imported before the task ran, in a worker of a
    daemon started with ``preload`` (a Python function's environment is part of the daemon's key:
    another value starts another daemon)."""
    def imported(_: Iterator[int]) -> Iterator[tuple[bool, bool, bool]]:
        import sys

        yield ("dvt_connect.connectors.arrow_bulk.tasks" in sys.modules,
               "dvt_connect.connectors.postgres_native.driver" in sys.modules,
               "numpy" in sys.modules)

    environment = spark.sparkContext.environment
    before = environment.get(PRELOAD_ENV)
    environment[PRELOAD_ENV] = preload
    try:
        (seen,) = spark.sparkContext.parallelize([0], 1).mapPartitions(imported).collect()
    finally:
        if before is None:
            environment.pop(PRELOAD_ENV, None)
        else:
            environment[PRELOAD_ENV] = before
    return seen


@pytest.mark.spark
def test_local_workers_are_forked_with_the_named_modules_imported(spark: Any) -> None:
    import uuid

    modules = ["pyspark.worker", "dvt_connect.connectors.arrow_bulk.tasks",
               "dvt_connect.connectors.postgres_native.driver"]
    assert spark.sparkContext.getConf().get(f"spark.executorEnv.{PRELOAD_ENV}", "").startswith(
        "pyspark.worker")
    # a module of no installed package is skipped (the unique name: a daemon of its own)
    fresh = f"dvt_test_absent_{uuid.uuid4().hex}"
    assert _modules_in_a_fresh_worker(spark, ",".join([*modules, fresh])) == (True, True, False)


@pytest.mark.spark
def test_a_module_that_starts_a_thread_makes_the_daemon_start_again_preloading_nothing(
        spark: Any) -> None:
    import uuid

    # pyarrow starts its allocator's thread: the daemon runs again without preloading, in place
    # (the task runs, in a worker that has imported neither numpy, which pyarrow imports, nor
    # the module named after it)
    fresh = f"dvt_test_absent_{uuid.uuid4().hex}"
    named = ["pyspark.worker", "pyarrow", "dvt_connect.connectors.arrow_bulk.tasks", fresh]
    assert _modules_in_a_fresh_worker(spark, ",".join(named)) == (False, False, False)


def test_the_workers_preload_leaves_the_driver_side_out() -> None:
    """What the daemon imports before forking is the task code and the bulk drivers: not the
    connectors' factory, the configuration (YAML, Jinja) or the driver's connectors and Spark
    session code (0.13 s of the daemon's 0.43 s before they were left out)."""
    import subprocess
    import sys

    from dvt_connect.warm_up import worker_modules

    wanted = preload_modules(worker_modules())
    probe = ("import importlib, sys\n"
             "for name in sys.argv[1:]:\n"
             "    importlib.import_module(name)\n"
             "print(' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", probe, *wanted], capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    driver_side = ("dvt_connect.connectors.factory", "dvt_connect.config", "dvt_connect.spark",
                   "dvt_connect.connectors.staging", "dvt_connect.connectors.jdbc",
                   "dvt_connect.connectors.postgres_native.connector",
                   "dvt_connect.connectors.mysql_native.connector", "jinja2", "yaml")
    assert "dvt_connect.connectors.arrow_bulk.tasks" in out
    assert [m for m in driver_side if m in out] == []
