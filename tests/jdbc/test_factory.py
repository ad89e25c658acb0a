"""ConnectorFactory: which connector, why, and the fallback warning; usable with any session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.adapters import adapter
from dvt_connect.config.buckets import Bucket, parse_bucket
from dvt_connect.config.profiles import Connection, parse_connection
from dvt_connect.connectors.base import ConnectorType, ReadRequest, TableRef
from dvt_connect.connectors.factory import REGISTRY, ConnectorFactory, connector_class
from dvt_connect.connectors.jdbc import JDBCConnector
from dvt_connect.console import CaptureConsole
from dvt_connect.errors import ConfigError, DvtError

from .conftest import pg_connection


def s3_bucket() -> Bucket:
    return parse_bucket("s3_stage", {"type": "s3", "bucket": "stage", "region": "us-east-1"},
                        path=Path("buckets.yml"), key="default.outputs.s3_stage")


def warehouse_double(pg: dict[str, Any], **extra: Any) -> Connection:
    """A test double for a warehouse: the real PostgreSQL with Snowflake's native-connector
    facts attached, so the factory's size check runs on real catalog statistics."""
    connection = pg_connection(pg, **extra)
    return replace(connection, facts=replace(connection.facts,
                                             native=adapter("snowflake").native))


@pytest.fixture
def analyzed_table(pg_sql: Any, pg_table: Callable[[str], str]) -> str:
    table = pg_table("size")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    pg_sql.execute(f"INSERT INTO {table} SELECT generate_series(1, 500)")
    pg_sql.execute(f"ANALYZE {table}")
    return table


# ---- the registry ------------------------------------------------------------------------

def test_every_registered_connector_imports() -> None:
    for connector_type in REGISTRY:
        assert connector_class(connector_type).connector_type is connector_type


def test_a_missing_connector_module_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, ConnectorType.MYSQL_NATIVE,
                        "dvt_connect.connectors.no_such_module:Nope")
    with pytest.raises(DvtError, match="mysql_native connector cannot be loaded"):
        connector_class(ConnectorType.MYSQL_NATIVE)
    monkeypatch.delitem(REGISTRY, ConnectorType.MYSQL_NATIVE)
    with pytest.raises(DvtError, match="no connector is registered for `mysql_native`"):
        connector_class(ConnectorType.MYSQL_NATIVE)


# ---- selection with real catalog statistics ------------------------------------------------



@pytest.mark.spark
@pytest.mark.postgres
def test_a_small_source_uses_jdbc_even_when_a_native_path_exists(
        spark: Any, pg: dict[str, Any], analyzed_table: str) -> None:
    console = CaptureConsole()
    factory = ConnectorFactory(spark, {"s3_stage": s3_bucket()}, console=console)
    request = ReadRequest(table=TableRef.parse(analyzed_table))

    source = factory.for_source(warehouse_double(pg), request)

    assert isinstance(source, JDBCConnector)
    assert source.choice.connector is ConnectorType.JDBC  # type: ignore[attr-defined]
    assert source.choice.reason == (  # type: ignore[attr-defined]
        "about 500 rows (catalog estimate) is under 100,000: JDBC is cheaper than a bulk export")
    assert console.warnings() == []
    # the estimate is kept: the plan reports it without asking the catalog again
    plan = source.plan_read(request, reason=source.choice.reason)  # type: ignore[attr-defined]
    assert plan.estimated_rows == 500 and plan.reason.startswith("about 500 rows")


@pytest.mark.spark
@pytest.mark.postgres
def test_a_large_source_takes_the_native_path(spark: Any, pg: dict[str, Any],
                                              analyzed_table: str) -> None:
    bucket = s3_bucket()
    factory = ConnectorFactory(spark, {"s3_stage": bucket}, threshold=100)
    source = factory.for_source(warehouse_double(pg),
                                ReadRequest(table=TableRef.parse(analyzed_table)))
    choice = source.choice  # type: ignore[attr-defined]
    assert source.connector_type is ConnectorType.SNOWFLAKE_NATIVE
    assert choice.bucket is bucket and source.bucket is bucket
    assert choice.reason.startswith("about 500 rows (catalog estimate) ≥ 100;")


@pytest.mark.spark
@pytest.mark.postgres
def test_the_connector_option_overrides_the_size_rule(spark: Any, pg: dict[str, Any],
                                                      analyzed_table: str) -> None:
    factory = ConnectorFactory(spark, {"s3_stage": s3_bucket()}, threshold=100)
    request = ReadRequest(table=TableRef.parse(analyzed_table))
    forced = factory.for_source(warehouse_double(pg), request, mode="jdbc")
    assert isinstance(forced, JDBCConnector)
    assert forced.choice.reason == "JDBC requested with --connector jdbc"  # type: ignore[attr-defined]
    small = ConnectorFactory(spark, {"s3_stage": s3_bucket()}).for_source(
        warehouse_double(pg), request, mode="native")
    assert small.connector_type is ConnectorType.SNOWFLAKE_NATIVE


@pytest.mark.spark
def test_no_bucket_falls_back_to_jdbc_with_the_warning(spark: Any, pg: dict[str, Any]) -> None:
    console = CaptureConsole()
    request = ReadRequest(table=TableRef.parse("public.anything"))
    source = ConnectorFactory(spark, {}, console=console).for_source(warehouse_double(pg),
                                                                     request)
    assert isinstance(source, JDBCConnector)
    assert source.choice.reason == "no s3/azure/gcs bucket configured"  # type: ignore[attr-defined]
    assert console.warnings() == [
        "Native connector available for postgres but no s3/azure/gcs bucket configured. "
        "Configure buckets.yml for faster transfers. Falling back to JDBC."]
    quiet = CaptureConsole()
    ConnectorFactory(spark, {}, console=quiet, emit_warnings=False).for_source(
        warehouse_double(pg), request)
    assert quiet.warnings() == []
    with pytest.raises(ConfigError, match="--connector native needs a s3/azure/gcs bucket"):
        ConnectorFactory(spark, {}).for_source(warehouse_double(pg), request, mode="native")


@pytest.mark.spark
@pytest.mark.postgres
def test_a_failed_size_check_is_reported_and_selection_goes_on(
        spark: Any, pg: dict[str, Any]) -> None:
    console = CaptureConsole()
    source = ConnectorFactory(spark, {"s3_stage": s3_bucket()}, console=console).for_source(
        warehouse_double({**pg, "user": "dvt_no_such_role"}),
        ReadRequest(table=TableRef.parse("public.t")))
    assert source.connector_type is ConnectorType.SNOWFLAKE_NATIVE
    assert "size unknown" in source.choice.reason  # type: ignore[attr-defined]
    assert console.warnings()[0].startswith("could not read the size of the source")


@pytest.mark.spark
def test_databases_without_a_native_path_use_jdbc_and_files_use_files(
        spark: Any, tmp_path: Path) -> None:
    factory = ConnectorFactory(spark)
    derby = parse_connection("derby", {"type": "derby", "path": str(tmp_path / "db")},
                             path=Path("profiles.yml"), key="test.derby")
    source = factory.for_source(derby, ReadRequest(table=TableRef.parse("t")))
    assert isinstance(source, JDBCConnector)
    assert source.choice.reason == "no native connector for derby"  # type: ignore[attr-defined]
    assert isinstance(factory.for_target(derby), JDBCConnector)
    lake = parse_connection("lake", {"type": "files", "path": str(tmp_path)},
                            path=Path("profiles.yml"), key="test.outputs.lake")
    assert factory.for_target(lake).connector_type is ConnectorType.FILES
    assert factory.for_source(lake, ReadRequest(table=TableRef.parse("t"))).connector_type is (
        ConnectorType.FILES)
