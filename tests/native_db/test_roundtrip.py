"""The same round trips on both paths, each compared with the values the database's own client
(psycopg, PyMySQL) reads from the source: never one path with the other, so a bug both paths
share does not pass. The paths must still agree on the Spark schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from write.fixtures import (
    create_mariadb_typed,
    create_pg_typed,
    expected_rows,
    mariadb_columns,
    mariadb_connection,
    mariadb_rows,
    pg_client,
    pg_columns,
    pg_connection,
    pg_rows,
    typed_dataframe,
)
from write.fixtures import normalize as normalized

from dvt_connect.config.buckets import LocalBucket
from dvt_connect.connectors.base import ConnectorType, ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.jdbc import JDBCConnector
from dvt_connect.connectors.mysql_native.connector import MySQLNativeConnector
from dvt_connect.connectors.postgres_native.connector import PostgresNativeConnector

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]


def read_both(spark: Any, native: Any, jdbc: JDBCConnector, request: ReadRequest
              ) -> tuple[Any, Any, Any]:
    plan = native.plan_read(request)
    return plan, native.load(plan), jdbc.load(jdbc.plan_read(request))


def by_id(rows: list[dict[str, Any]], **how: Any) -> list[dict[str, Any]]:
    return sorted((normalized(r, **how) for r in rows), key=lambda r: r["id"])


def assert_as_source(native_df: Any, jdbc_df: Any, source: list[dict[str, Any]],
                     **how: Any) -> None:
    """Both paths read what the source's own client reads (instants compared in UTC)."""
    assert native_df.schema == jdbc_df.schema  # names, types, nullability, char/varchar
    expected = by_id(source, instants_as_utc=("tstz",), **how)
    for df in (native_df, jdbc_df):
        got = by_id([r.asDict() for r in df.collect()], instants_as_utc=("tstz",), **how)
        assert got == expected


def pg_source(pg: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return pg_rows(pg, table)


@pytest.mark.parametrize("path", ["arrow", "parquet"])
def test_postgres_read_equals_jdbc(spark: Any, pg: dict[str, Any], pg_names: Any,
                                   tmp_path: Path, path: str) -> None:
    source = pg_names("src")
    create_pg_typed(pg, source)
    connection = pg_connection(pg, native_path=path)
    bucket = LocalBucket(name="stage", source_file=Path("buckets.yml"), path=str(tmp_path))
    native = PostgresNativeConnector(spark, connection, bucket=bucket)

    plan, native_df, jdbc_df = read_both(spark, native, JDBCConnector(spark, connection),
                                         ReadRequest(table=TableRef(source)))

    assert plan.connector is ConnectorType.POSTGRES_NATIVE
    assert plan.path == path
    assert {f.name: f.dataType.simpleString() for f in native_df.schema.fields}["ts"] \
        == "timestamp_ntz"
    assert_as_source(native_df, jdbc_df, pg_source(pg, source))
    if path == "parquet":
        assert native.staged_paths and all(p.is_dir() for p in native.staged_paths)
    assert native.cleanup() == []
    assert list(tmp_path.rglob("*.parquet")) == []


def test_postgres_read_of_more_types_and_partitions_equals_jdbc(
        spark: Any, pg: dict[str, Any], pg_names: Any) -> None:
    source = pg_names("wide")
    with pg_client(pg) as conn:
        conn.execute(
            f"CREATE TABLE {source} AS SELECT g AS id, (g * 1.5)::numeric AS free_numeric, "
            f"(g * 1.255)::numeric(40,2) AS wide_numeric, gen_random_uuid() AS u, "
            "jsonb_build_object('g', g) AS j, (g || ' days')::interval AS iv, "
            "time '01:02:03.5' + g * interval '1 second' AS tm, ARRAY[g, g + 1] AS arr, "
            "'x'::char(3) AS c3, (g % 2 = 0) AS b FROM generate_series(1, 3000) g")
        conn.execute(f"ALTER TABLE {source} ADD PRIMARY KEY (id)")
        conn.execute(f"ANALYZE {source}")
    connection = pg_connection(pg)
    request = ReadRequest(table=TableRef(source), partitions=3)

    plan, native_df, jdbc_df = read_both(spark, PostgresNativeConnector(spark, connection),
                                         JDBCConnector(spark, connection), request)

    assert plan.connector is ConnectorType.POSTGRES_NATIVE
    assert len(plan.partitions) == 3 and len(plan.describe()["queries"]) == 3
    assert native_df.rdd.getNumPartitions() == 3
    assert native_df.schema == jdbc_df.schema
    assert sorted(native_df.collect()) == sorted(jdbc_df.collect())


def test_postgres_type_without_mapping_reads_over_jdbc_and_says_why(
        spark: Any, pg: dict[str, Any], pg_names: Any) -> None:
    from dvt_connect.console import CaptureConsole

    source = pg_names("odd")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} AS SELECT 1 AS id, "
                     "ARRAY[1.5::numeric(5,2)] AS nums")
    console = CaptureConsole()
    native = PostgresNativeConnector(spark, pg_connection(pg), console=console)

    plan = native.plan_read(ReadRequest(table=TableRef(source)))

    assert plan.connector is ConnectorType.JDBC
    assert "`nums` (_numeric as array<decimal(5,2)>)" in plan.reason
    assert any("reading over JDBC" in w for w in console.warnings())
    assert native.load(plan).collect()[0]["nums"][0] == pytest.approx(1.5)


def test_mariadb_read_equals_jdbc(spark: Any, mariadb: dict[str, Any],
                                  maria_names: Any) -> None:
    source = maria_names("src")
    create_mariadb_typed(mariadb, source)
    connection = mariadb_connection(mariadb)

    plan, native_df, jdbc_df = read_both(spark, MySQLNativeConnector(spark, connection),
                                         JDBCConnector(spark, connection),
                                         ReadRequest(table=TableRef(source)))

    assert plan.connector is ConnectorType.MYSQL_NATIVE
    assert_as_source(native_df, jdbc_df, mariadb_rows(mariadb, source))


@pytest.mark.parametrize("database", ["postgres", "mariadb"])
def test_empty_tables_read_equal_on_both_paths(spark: Any, pg: dict[str, Any],
                                               mariadb: dict[str, Any], pg_names: Any,
                                               maria_names: Any, database: str) -> None:
    if database == "postgres":
        source = pg_names("empty")
        create_pg_typed(pg, source, rows=False)
        connection = pg_connection(pg)
        native: Any = PostgresNativeConnector(spark, connection)
    else:
        source = maria_names("empty")
        create_mariadb_typed(mariadb, source, rows=False)
        connection = mariadb_connection(mariadb)
        native = MySQLNativeConnector(spark, connection)

    _, native_df, jdbc_df = read_both(spark, native, JDBCConnector(spark, connection),
                                      ReadRequest(table=TableRef(source)))

    assert native_df.schema == jdbc_df.schema
    assert native_df.collect() == [] == jdbc_df.collect()


def test_postgres_write_equals_jdbc_write(spark: Any, pg: dict[str, Any], pg_names: Any,
                                          nothing_left: None) -> None:
    native_table, jdbc_table = pg_names("nat"), pg_names("jdbc")
    df = typed_dataframe(spark).repartition(3)
    connection = pg_connection(pg)

    outcome = PostgresNativeConnector(spark, connection).write_dataframe(
        df, WriteRequest(table=TableRef(native_table)))
    JDBCConnector(spark, connection).write_dataframe(df, WriteRequest(table=TableRef(jdbc_table)))

    assert outcome.notes[0].startswith("native PostgreSQL load: binary COPY")
    assert pg_columns(pg, native_table) == pg_columns(pg, jdbc_table)
    assert pg_columns(pg, native_table)["ts"] == "timestamp(6) without time zone"
    expected = by_id(expected_rows())
    assert by_id(pg_rows(pg, native_table)) == expected
    assert by_id(pg_rows(pg, jdbc_table)) == expected


def test_mariadb_write_equals_jdbc_write(spark: Any, mariadb: dict[str, Any],
                                         maria_names: Any, nothing_left: None) -> None:
    native_table, jdbc_table = maria_names("nat"), maria_names("jdbc")
    df = typed_dataframe(spark).repartition(3)
    connection = mariadb_connection(mariadb)

    outcome = MySQLNativeConnector(spark, connection).write_dataframe(
        df, WriteRequest(table=TableRef(native_table)))
    JDBCConnector(spark, connection).write_dataframe(df, WriteRequest(table=TableRef(jdbc_table)))

    assert outcome.notes[0].startswith("native MariaDB load: LOAD DATA LOCAL INFILE")
    assert mariadb_columns(mariadb, native_table) == mariadb_columns(mariadb, jdbc_table)
    how = {"instants_as_utc": ("tstz",), "booleans": ("flag",)}
    expected = by_id(expected_rows(), **how)
    assert by_id(mariadb_rows(mariadb, native_table), **how) == expected
    assert by_id(mariadb_rows(mariadb, jdbc_table), **how) == expected


@pytest.mark.parametrize("database", ["postgres", "mariadb"])
def test_empty_dataframe_writes_an_empty_table(spark: Any, pg: dict[str, Any],
                                               mariadb: dict[str, Any], pg_names: Any,
                                               maria_names: Any, database: str,
                                               nothing_left: None) -> None:
    df = typed_dataframe(spark).limit(0)
    if database == "postgres":
        table = pg_names("empty")
        PostgresNativeConnector(spark, pg_connection(pg)).write_dataframe(
            df, WriteRequest(table=TableRef(table)))
        assert pg_rows(pg, table) == []
        assert pg_columns(pg, table)["dec_max"] == "numeric(38,0)"
    else:
        table = maria_names("empty")
        MySQLNativeConnector(spark, mariadb_connection(mariadb)).write_dataframe(
            df, WriteRequest(table=TableRef(table)))
        assert mariadb_rows(mariadb, table) == []
        assert mariadb_columns(mariadb, table)["dec_max"] == "decimal(38,0)"


def test_postgres_append_adds_rows_in_one_transaction(spark: Any, pg: dict[str, Any],
                                                      pg_names: Any, nothing_left: None) -> None:
    table = pg_names("app")
    native = PostgresNativeConnector(spark, pg_connection(pg))
    df = typed_dataframe(spark)
    native.write_dataframe(df, WriteRequest(table=TableRef(table)))

    outcome = native.write_dataframe(df, WriteRequest(table=TableRef(table), mode="append"))

    assert any(n.startswith("appended to") for n in outcome.notes)
    assert len(pg_rows(pg, table)) == 14
