"""Choosing the native PostgreSQL/MySQL path: pure decisions, no Spark, no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvt_connect.adapters import adapter
from dvt_connect.config.buckets import LocalBucket
from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.arrow_bulk.columns import BulkRead, ColumnRead
from dvt_connect.connectors.arrow_bulk.connector import native_path
from dvt_connect.connectors.base import ConnectorType
from dvt_connect.connectors.selection import choose_connector, native_possible
from dvt_connect.errors import ConfigError
from dvt_connect.jars.plan import native_need, needs_for_types
from dvt_connect.jars.spark_versions import installed_spark


def conn(kind: str, **extra: object):  # type: ignore[no-untyped-def]
    data = {"type": kind, "host": "db", "user": "u", "dbname": "d", **extra}
    return parse_connection("src", data, path=Path("profiles.yml"), key="p.outputs.src")


def nothing(_: str) -> bool:
    return False


def everything(_: str) -> bool:
    return True


@pytest.mark.parametrize("kind,extra,connector", [
    ("postgres", "postgres", ConnectorType.POSTGRES_NATIVE),
    ("mariadb", "mysql", ConnectorType.MYSQL_NATIVE),
    ("mysql", "mysql", ConnectorType.MYSQL_NATIVE),
])
def test_missing_python_driver_falls_back_to_jdbc_naming_the_extra(
        kind: str, extra: str, connector: ConnectorType) -> None:
    choice = choose_connector(conn(kind), {}, estimated_rows=10_000_000, installed=nothing)

    assert choice.connector is ConnectorType.JDBC
    assert len(choice.warnings) == 1
    assert f'`pip install "dvt-connect[{extra}]"`' in choice.warnings[0]
    assert choice.warnings[0].endswith("Falling back to JDBC.")
    assert not native_possible(conn(kind).facts.native, {}, installed=nothing)

    installed = choose_connector(conn(kind), {}, estimated_rows=10_000_000,
                                 installed=everything)
    assert installed.connector is connector and installed.warnings == ()


def test_forcing_native_without_the_driver_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match=r'pip install "dvt-connect\[postgres\]"'):
        choose_connector(conn("postgres"), {}, mode="native", installed=nothing)


def test_native_needs_no_bucket_and_small_tables_stay_on_jdbc() -> None:
    large = choose_connector(conn("postgres"), {}, estimated_rows=5_000_000,
                             installed=everything)
    small = choose_connector(conn("postgres"), {}, estimated_rows=5_000, installed=everything)

    assert large.connector is ConnectorType.POSTGRES_NATIVE
    assert "bulk protocol inside Spark tasks" in large.reason and large.bucket is None
    assert small.connector is ConnectorType.JDBC and "under 100,000" in small.reason
    assert native_possible(conn("postgres").facts.native, {}, installed=everything)


def test_a_local_bucket_is_offered_for_the_parquet_path() -> None:
    bucket = LocalBucket(name="stage", source_file=Path("buckets.yml"), path="/tmp/stage")
    choice = choose_connector(conn("postgres"), {"stage": bucket}, estimated_rows=10**6,
                              installed=everything)
    assert choice.bucket is bucket


def test_python_native_paths_need_nothing_from_maven() -> None:
    spark = installed_spark()
    for name in ("postgres", "mariadb", "mysql"):
        native = adapter(name).native
        assert native is not None and native.is_python
        need = native_need(native, spark)
        assert need.coordinates == () and need.problem is None
        assert f'dvt-connect[{native.python_extra}]' in (need.note or "")
    keys = {n.key: n for n in needs_for_types(["postgres"], [], spark)}
    assert keys["adapter:postgres"].coordinates  # the JDBC driver is still fetched


def test_native_path_option_is_checked() -> None:
    assert native_path(conn("postgres")) == "arrow"
    assert native_path(conn("postgres", native_path="parquet")) == "parquet"
    with pytest.raises(ConfigError, match="unknown native_path `csv`; valid: arrow, parquet"):
        native_path(conn("postgres", native_path="csv"))


def test_read_spec_round_trips_as_json_without_a_password() -> None:
    spec = BulkRead(dialect="postgres", params={"host": "db", "user": "u"},
                    queries=("SELECT 1",), columns=(ColumnRead("a", '"a"', "scaled"),),
                    schema_json="{}")
    assert BulkRead.from_json(spec.to_json()) == spec
    assert "password" not in spec.to_json()
    with pytest.raises(ValueError, match="unknown conversion"):
        ColumnRead("a", "a", "guess")
