"""What a new warm server runs before it answers (:mod:`dvt_connect.warm_up`), each step on a
real local session: the drivers on the class path loaded, Spark's JDBC source on an in-memory
Derby database that is dropped after, a Parquet schema read as the files connector reads it, the
Python workers started."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from dvt_connect import warm_up
from dvt_connect.connectors.files import warm_footer_reader
from dvt_connect.databases import database
from dvt_connect.databases.derby import memory_url

pytestmark = [pytest.mark.spark]


def test_the_drivers_on_the_class_path_are_loaded_and_the_others_skipped(spark: Any) -> None:
    loaded = warm_up.load_drivers(spark)
    for name in ("postgres", "mariadb", "derby"):  # the session's jars, and Spark's own Derby
        assert database(name).driver_class in loaded
    assert database("snowflake").driver_class not in loaded  # not synced for this session


def test_the_jdbc_read_counts_its_row_and_drops_its_database(spark: Any) -> None:
    from py4j.protocol import Py4JJavaError

    assert warm_up.jdbc_read(spark) == 1
    with pytest.raises(Py4JJavaError, match="not found"):  # dropped: nothing stays in memory
        spark._jvm.java.sql.DriverManager.getConnection(memory_url(warm_up.WARM_DATABASE))
    assert warm_up.jdbc_read(spark) == 1  # and a second run creates it again


def test_the_parquet_schema_is_sparks_own(spark: Any, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    schema = warm_footer_reader(spark, str(tmp_path))
    assert schema == spark.read.parquet(str(tmp_path)).schema
    assert [f.name for f in schema.fields] == ["id", "name", "amount", "at", "day", "ratio",
                                               "flag"]
    # the server's step writes into a temporary folder of its own, removed after
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert warm_up.parquet_schema(spark) == schema
    assert os.listdir(scratch) == []


def test_every_step_runs(spark: Any) -> None:
    steps = warm_up.warm_up(spark)
    assert list(steps) == ["JDBC drivers", "JDBC read", "Parquet schema", "Python workers"]
    assert all(outcome.endswith(" s") for outcome in steps.values()), steps


def test_a_failing_step_is_named_and_the_others_still_run(
        spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: Any) -> None:
        raise OSError("no temporary folder")

    monkeypatch.setattr(warm_up, "parquet_schema", broken)
    steps = warm_up.warm_up(spark)
    assert steps["Parquet schema"] == "failed (OSError)"
    assert steps["Python workers"].endswith(" s")


def test_the_workers_step_is_bounded_in_time_and_cancels_its_job(spark: Any) -> None:
    """A worker start that outlasts the wait fails the step (the server answers all the same)
    and its job is cancelled; a later start works."""
    with pytest.raises(TimeoutError, match="did not start within 0 s"):
        warm_up.python_workers(spark, wait=0)
    assert warm_up.python_workers(spark) is True
