"""Source columns Spark's JDBC source cannot hold exactly are named in the plan and warned
about, never changed silently."""

from __future__ import annotations

from typing import Any

import pytest

from dvt_connect.connectors.base import ReadRequest, TableRef
from dvt_connect.connectors.jdbc import JDBCConnector
from dvt_connect.connectors.jdbc.metadata import ColumnInfo, lossy_reads
from dvt_connect.console import CaptureConsole

from .conftest import maria_connection, maria_exec, pg_connection


def test_pure_rules_name_each_lossy_column() -> None:
    columns = [ColumnInfo("ok", 2, "numeric", 2, True, precision=12),
               ColumnInfo("wide", 3, "DECIMAL", 30, True, precision=65),
               ColumnInfo("free", 2, "numeric", 0, True, precision=0),
               ColumnInfo("t", 92, "time", 0, True),
               ColumnInfo("f", 7, "FLOAT", 0, True)]
    pg = lossy_reads(columns, "postgres")
    assert [p.split("`")[1] for p in pg] == ["wide", "free", "t"]
    assert "DECIMAL(65,30)" in pg[0] and "at most 38 digits" in pg[0]
    assert [p.split("`")[1] for p in lossy_reads(columns, "mariadb")] == ["wide", "free", "f"]
    assert lossy_reads(columns, "postgres", selected=("ok",)) == []


@pytest.mark.spark
@pytest.mark.postgres
def test_postgres_plan_warns_about_unbounded_numeric_and_time(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Any) -> None:
    table = pg_table("lossy")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, amount numeric, at time, "
                   "price numeric(12,2))")
    console = CaptureConsole()
    schema, name = table.split(".")
    plan = JDBCConnector(spark, pg_connection(pg), console=console).plan_read(
        ReadRequest(table=TableRef(name, schema)))
    warned = console.warnings()
    assert any("`amount`" in w and "38 digits" in w for w in warned)
    assert any("`at`" in w and "millisecond" in w for w in warned)
    assert not any("`price`" in w for w in warned)
    assert sum(n.startswith("warning:") for n in plan.notes) == 2


@pytest.mark.spark
@pytest.mark.mariadb
def test_mariadb_plan_warns_about_wide_decimal_and_float(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any, maria_table: Any) -> None:
    table = maria_table("lossy")
    maria_exec(maria_sql, f"CREATE TABLE `{table}` (id INT PRIMARY KEY, big DECIMAL(65,30), "
                          "ratio FLOAT, fine DOUBLE)")
    console = CaptureConsole()
    JDBCConnector(spark, maria_connection(mariadb), console=console).plan_read(
        ReadRequest(table=TableRef(table)))
    warned = console.warnings()
    assert any("`big`" in w and "(65,30)" in w for w in warned)
    assert any("`ratio`" in w and "6 significant digits" in w for w in warned)
    assert not any("`fine`" in w for w in warned)
