"""Round trips through our JDBC writer with value-level equality, checked with each database's
own client: PostgreSQL -> MariaDB, MariaDB -> PostgreSQL, and empty tables."""

from __future__ import annotations

from typing import Any

import pytest

from dvt_connect.connectors.base import TableRef, WriteRequest
from dvt_connect.connectors.jdbc.writer import write_jdbc
from dvt_connect.console import CaptureConsole

from .fixtures import (
    COLUMNS,
    create_mariadb_typed,
    create_pg_typed,
    expected_rows,
    mariadb_columns,
    mariadb_connection,
    mariadb_rows,
    normalize,
    pg_columns,
    pg_connection,
    pg_rows,
    spark_read,
)

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]


def test_postgres_to_mariadb_keeps_every_value(spark: Any, pg: dict[str, Any],
                                               mariadb: dict[str, Any], pg_name: Any,
                                               maria_name: Any, no_stage_left: None) -> None:
    source, target = pg_name("src"), maria_name("dst")
    create_pg_typed(pg, source)
    df = spark_read(spark, pg_connection(pg), source)
    console = CaptureConsole()

    outcome = write_jdbc(spark, mariadb_connection(mariadb), df,
                         WriteRequest(table=TableRef(target)), console=console)

    assert outcome.bytes_written is None  # nothing measured, nothing invented
    assert any(n.startswith(f"created `{mariadb['database']}.{target}`") for n in outcome.notes)
    assert console.warnings() == []
    assert mariadb_columns(mariadb, target) == {
        "id": "int(11)", "flag": "tinyint(1)", "i16": "smallint(6)", "i32": "int(11)",
        "i64": "bigint(20)", "f32": "double", "f64": "double", "dec_small": "decimal(10,2)",
        "dec_max": "decimal(38,0)", "dec_frac": "decimal(38,38)", "txt": "longtext",
        "vc": "varchar(20)", "bin": "longblob", "d": "date", "ts": "datetime(6)",
        "tstz": "datetime(6)",
    }
    got = [normalize(r, instants_as_utc=["tstz"], booleans=["flag"])
           for r in mariadb_rows(mariadb, target)]
    assert got == [normalize(r) for r in expected_rows()]


def test_mariadb_to_postgres_keeps_every_value(spark: Any, pg: dict[str, Any],
                                               mariadb: dict[str, Any], pg_name: Any,
                                               maria_name: Any, no_stage_left: None) -> None:
    source, target = maria_name("src"), pg_name("dst")
    create_mariadb_typed(mariadb, source)
    df = spark_read(spark, mariadb_connection(mariadb), source)

    write_jdbc(spark, pg_connection(pg), df, WriteRequest(table=TableRef(target)))

    # MariaDB's BOOLEAN is TINYINT(1): a number (it may hold 5), so a smallint arrives
    assert pg_columns(pg, target) == {
        "id": "integer", "flag": "smallint", "i16": "smallint", "i32": "integer",
        "i64": "bigint", "f32": "real", "f64": "double precision",
        "dec_small": "numeric(10,2)", "dec_max": "numeric(38,0)", "dec_frac": "numeric(38,38)",
        "txt": "text", "vc": "character varying(20)", "bin": "bytea", "d": "date",
        "ts": "timestamp(6) without time zone", "tstz": "timestamp(6) with time zone",
    }
    got = [normalize(r, booleans=("flag",)) for r in pg_rows(pg, target)]
    assert got == [normalize(r) for r in expected_rows(mariadb_source=True)]


def test_postgres_to_postgres_overwrite_replaces_values_and_columns(
        spark: Any, pg: dict[str, Any], pg_name: Any, no_stage_left: None) -> None:
    source, target = pg_name("src"), pg_name("dst")
    create_pg_typed(pg, source)
    conn = pg_connection(pg)
    from .fixtures import pg_client

    with pg_client(pg) as client:
        client.execute(f"CREATE TABLE {target} (old_col text)")
        client.execute(f"INSERT INTO {target} VALUES ('old')")

    outcome = write_jdbc(spark, conn, spark_read(spark, conn, source),
                         WriteRequest(table=TableRef(target, "public")))

    assert any("had different columns (old_col)" in n for n in outcome.notes)
    assert list(pg_columns(pg, target)) == list(COLUMNS)
    assert [normalize(r) for r in pg_rows(pg, target)] == [normalize(r) for r in expected_rows()]


@pytest.mark.parametrize("direction", ["pg_to_maria", "maria_to_pg"])
def test_empty_table_round_trip(spark: Any, pg: dict[str, Any], mariadb: dict[str, Any],
                                pg_name: Any, maria_name: Any, no_stage_left: None,
                                direction: str) -> None:
    if direction == "pg_to_maria":
        source, target = pg_name("src"), maria_name("dst")
        create_pg_typed(pg, source, rows=False)
        df = spark_read(spark, pg_connection(pg), source)
        write_jdbc(spark, mariadb_connection(mariadb), df, WriteRequest(table=TableRef(target)))
        assert mariadb_rows(mariadb, target) == []
        assert mariadb_columns(mariadb, target)["dec_max"] == "decimal(38,0)"
    else:
        source, target = maria_name("src"), pg_name("dst")
        create_mariadb_typed(mariadb, source, rows=False)
        df = spark_read(spark, mariadb_connection(mariadb), source)
        write_jdbc(spark, pg_connection(pg), df, WriteRequest(table=TableRef(target)))
        assert pg_rows(pg, target) == []
        assert pg_columns(pg, target)["tstz"] == "timestamp(6) with time zone"


@pytest.mark.parametrize("session_zone", ["UTC", "America/New_York"])
def test_old_calendar_times_and_time_of_day(spark: Any, pg: dict[str, Any],
                                            mariadb: dict[str, Any], pg_name: Any,
                                            maria_name: Any, no_stage_left: None,
                                            session_zone: str) -> None:
    """Wall times before the Gregorian reform (Spark binds them unrebased: 0500-01-01 would
    land as 0499-12-31), a New York gap wall time under a New York session, and PostgreSQL
    TIME columns, into both databases. (Spark's JDBC reader takes TIME through
    java.sql.Time, milliseconds only, so the TIME values here have milliseconds.)"""
    from .fixtures import mariadb_client, pg_client

    source = pg_name("old")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id int, ntz timestamp(6), tz timestamptz(6), "
                     "d date, t time(6))")
        conn.execute(
            f"INSERT INTO {source} VALUES "
            "(1, '0500-01-01 10:00:00.000001', '0500-01-01 10:00:00+00', '0500-01-01', "
            "'12:34:56.789'), "
            "(2, '1582-10-04 23:59:59', '1582-10-04 23:59:59+00', '1582-10-04', '00:00:00'), "
            "(3, '2024-03-10 02:30:00', '2024-03-10 07:30:00+00', '2024-03-10', "
            "'23:59:59.999')")
    expected = [
        (1, "0500-01-01 10:00:00.000001", "0500-01-01 10:00:00", "0500-01-01", "12:34:56.789"),
        (2, "1582-10-04 23:59:59", "1582-10-04 23:59:59", "1582-10-04", "00:00:00"),
        (3, "2024-03-10 02:30:00", "2024-03-10 07:30:00", "2024-03-10", "23:59:59.999"),
    ]
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", session_zone)
    try:
        df = spark_read(spark, pg_connection(pg), source)
        to_pg, to_maria = pg_name("dst"), maria_name("dst")
        write_jdbc(spark, pg_connection(pg), df, WriteRequest(table=TableRef(to_pg)))
        write_jdbc(spark, mariadb_connection(mariadb), df, WriteRequest(table=TableRef(to_maria)))
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)

    with pg_client(pg) as conn:
        got_pg = conn.execute(
            f"SELECT id, ntz::text, to_char(tz, 'YYYY-MM-DD HH24:MI:SS'), d::text, t::text "
            f"FROM {to_pg} ORDER BY id").fetchall()
    assert got_pg == expected
    assert pg_columns(pg, to_pg)["t"] == "time(6) without time zone"
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, CAST(ntz AS CHAR), CAST(CAST(tz AS DATETIME(0)) AS CHAR), "
                    f"CAST(d AS CHAR), CAST(t AS CHAR) FROM {to_maria} ORDER BY id")
        got_maria = [tuple(v.rstrip("0").rstrip(".") if isinstance(v, str) and ":" in v
                           and "." in v else v for v in row) for row in cur.fetchall()]
    assert got_maria == expected
    assert mariadb_columns(mariadb, to_maria)["t"] == "time(6)"


def test_jvm_outside_utc_warns_and_shifts_only_gap_wall_times(
        pg: dict[str, Any], mariadb: dict[str, Any], tmp_path: Any) -> None:
    """Drivers render every timestamp in the JVM's zone. From a JVM in New York the writer
    still stores UTC wall times for instants and the wall times themselves, except a wall time
    inside New York's 2024-03-10 gap, and says so. (dvt should start Java in UTC.)"""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, TZ="America/New_York", PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-m", "tests.write.tz_probe"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["warnings"]) == 1
    assert "time zone America/New_York, not UTC" in result["warnings"][0]
    assert result["diffs"] == [[1, "ts", "2024-03-10 03:30:00.123456",
                                "2024-03-10 02:30:00.123456"]]
