"""Failures on the native paths: the target stays as it was, nothing staged is left behind,
errors are one readable line with the right retry verdict, and no secret leaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from write.fixtures import (
    create_pg_typed,
    mariadb_client,
    mariadb_connection,
    mariadb_rows,
    mariadb_tables,
    pg_client,
    pg_connection,
    pg_rows,
    typed_dataframe,
)

from dvt_connect import secrets
from dvt_connect.config.buckets import LocalBucket
from dvt_connect.connectors.arrow_bulk.tasks import NativeTaskError, TaskError, task_error
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.mysql_native.connector import LOCAL_INFILE_HELP, MySQLNativeConnector
from dvt_connect.connectors.postgres_native.connector import PostgresNativeConnector
from dvt_connect.console import CaptureConsole
from dvt_connect.transfer.run import execute_transfer, plan_transfer

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]


def failing(df: Any) -> Any:
    """``df`` whose sixth row fails inside the write's Spark job (after others were loaded)."""
    from pyspark.sql import functions as F

    return df.repartition(3).withColumn(
        "txt", F.when(F.col("id") == 6, F.raise_error(F.lit("boom"))).otherwise(F.col("txt")))


def test_failed_postgres_write_leaves_the_target_and_no_staging_table(
        spark: Any, pg: dict[str, Any], pg_names: Any, nothing_left: None) -> None:
    table = pg_names("keep")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {table} (old text)")
        conn.execute(f"INSERT INTO {table} VALUES ('kept')")
    native = PostgresNativeConnector(spark, pg_connection(pg))

    with pytest.raises(Exception, match="boom"):
        native.write_dataframe(failing(typed_dataframe(spark)),
                               WriteRequest(table=TableRef(table)))

    assert pg_rows(pg, table) == [{"old": "kept"}]


def test_failed_mariadb_write_leaves_the_target_and_no_staging_table(
        spark: Any, mariadb: dict[str, Any], maria_names: Any, nothing_left: None) -> None:
    table = maria_names("keep")
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (old varchar(10))")
        cur.execute(f"INSERT INTO {table} VALUES ('kept')")
    native = MySQLNativeConnector(spark, mariadb_connection(mariadb))

    with pytest.raises(Exception, match="boom"):
        native.write_dataframe(failing(typed_dataframe(spark)),
                               WriteRequest(table=TableRef(table)))

    assert mariadb_rows(mariadb, table) == [{"old": "kept"}]


def test_database_error_in_a_task_is_one_line_terminal_and_secret_free(
        spark: Any, pg: dict[str, Any], pg_names: Any) -> None:
    source = pg_names("gone")
    create_pg_typed(pg, source)
    password = "n4tive-s3cret-pw"  # PostgreSQL here trusts local users: any password works
    secrets.register(password)
    native = PostgresNativeConnector(spark, pg_connection(pg, password=password))
    plan = native.plan_read(ReadRequest(table=TableRef(source)))
    assert password not in json.dumps(plan.describe())
    with pg_client(pg) as conn:
        conn.execute(f"DROP TABLE {source}")

    with pytest.raises(Exception) as caught:
        native.load(plan).collect()

    info = task_error(caught.value)
    assert info is not None and info.sql_state == "42P01" and not info.transient
    message = native.describe_error(caught.value)
    assert message is not None and "\n" not in message
    assert f'relation "public.{source}" does not exist' in message
    assert message.endswith("(SQLState 42P01)")
    assert not native.is_transient(caught.value)
    assert password not in message


def test_lost_server_is_transient_and_retried_by_the_orchestrator(spark: Any) -> None:
    info = TaskError("postgres", "08006", None, True, "connection reset")
    wrapped = RuntimeError("Job aborted: ...\n" + str(NativeTaskError(info)) + "\n at ...")
    assert task_error(wrapped) == info
    import psycopg

    from dvt_connect.connectors.postgres_native.driver import error_info

    try:
        psycopg.connect("host=127.0.0.1 port=1 dbname=test user=postgres connect_timeout=2")
    except psycopg.OperationalError as exc:
        refused = error_info(exc)
    assert refused is not None and refused.transient and refused.sql_state == "08006"


def test_failed_staged_read_leaves_no_files(spark: Any, pg: dict[str, Any], pg_names: Any,
                                            tmp_path: Path, nothing_left: None) -> None:
    source, target = pg_names("src"), pg_names("dst")
    create_pg_typed(pg, source)
    bucket = LocalBucket(name="stage", source_file=Path("buckets.yml"), path=str(tmp_path))
    connection = pg_connection(pg, native_path="parquet")
    native = PostgresNativeConnector(spark, connection, bucket=bucket)
    df = native.load(native.plan_read(ReadRequest(table=TableRef(source))))
    assert list(tmp_path.rglob("*.parquet"))

    with pytest.raises(Exception, match="boom"):
        PostgresNativeConnector(spark, pg_connection(pg)).write_dataframe(
            failing(df), WriteRequest(table=TableRef(target)))
    assert native.cleanup() == []

    assert list(tmp_path.rglob("*")) == [tmp_path / "dvt"]


def test_mariadb_with_local_infile_off_writes_over_jdbc_and_says_how_to_fix(
        spark: Any, mariadb_local_infile_off: dict[str, Any]) -> None:
    server = mariadb_local_infile_off
    console = CaptureConsole()
    native = MySQLNativeConnector(spark, mariadb_connection(server), console=console)
    outcome = native.write_dataframe(typed_dataframe(spark), WriteRequest(table=TableRef("off")))

    assert LOCAL_INFILE_HELP in outcome.notes[0] and "writing over JDBC" in outcome.notes[0]
    assert any("SET GLOBAL local_infile = ON" in w for w in console.warnings())
    assert len(mariadb_rows(server, "off")) == 7
    assert mariadb_tables(server, "off\\_\\_dvt\\_%") == []
    # the answer is kept for the connector's later questions (the route's, the write's)
    assert native.write_problems() == [LOCAL_INFILE_HELP]


def test_the_servers_local_infile_is_asked_once_per_connector(
        spark: Any, mariadb: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    native = MySQLNativeConnector(spark, mariadb_connection(mariadb))
    opened: list[Any] = []
    open_session = native.open_session

    def counted() -> Any:
        opened.append(1)
        return open_session()
    monkeypatch.setattr(native, "open_session", counted)
    assert native.write_problems() == [] and native.write_problems() == []
    assert len(opened) == 1
    assert MySQLNativeConnector(spark, mariadb_connection(mariadb)).write_problems() == []


def test_transfer_picks_the_native_path_for_a_large_table_and_says_why(
        spark: Any, pg: dict[str, Any], pg_names: Any, tmp_path: Path) -> None:
    from write.fixtures import files_connection

    source = pg_names("big")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id bigint PRIMARY KEY, v text)")
        conn.execute(f"INSERT INTO {source} SELECT g, 'v' || g FROM generate_series(1, 120000) g")
        conn.execute(f"ANALYZE {source}")
    console = CaptureConsole()
    plan, reader, writer = plan_transfer(
        spark, pg_connection(pg), files_connection(tmp_path / "lake"),
        ReadRequest(table=TableRef(source)), WriteRequest(table=TableRef(source)),
        console=console)

    stats = execute_transfer(spark, plan, reader, writer, console=console)

    assert stats.connector.value == "postgres_native"
    assert "120,000 rows" in stats.reason and "≥ 100,000" in stats.reason
    assert stats.rows == 120_000
    assert plan.describe()["read"]["path"] == "arrow"
