"""The value-changing bugs of issue 10, each moved through the product's own transfer and
checked with the target's own client against the source's own client."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from write.fixtures import (
    files_connection,
    mariadb_client,
    mariadb_columns,
    mariadb_connection,
    mariadb_rows,
    mariadb_tables,
    pg_client,
    pg_columns,
    pg_connection,
    pg_rows,
    pg_tables,
)

from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.errors import TransferError
from dvt_connect.transfer.run import transfer

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]

UTC = timezone.utc


def move(spark: Any, source: Any, target: Any, table: str, target_table: str,
         **read: Any) -> Any:
    return transfer(spark, source, target, ReadRequest(table=TableRef(table), **read),
                    WriteRequest(table=TableRef(target_table)))


def test_postgres_timestamp_stays_a_wall_time_into_postgres(spark, pg, names):
    source, target = names("ts"), names("ts_out")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id int, ts timestamp(6), tz timestamptz(6))")
        conn.execute(f"INSERT INTO {source} VALUES (1, '2024-03-10 02:30:00.123456', "
                     "'2024-03-10 07:30:00.5+00'), (2, '1500-02-28 23:59:59.999999', NULL)")

    move(spark, pg_connection(pg), pg_connection(pg), source, target)

    types = pg_columns(pg, target)
    assert types["ts"] == "timestamp(6) without time zone"
    assert types["tz"] == "timestamp(6) with time zone"
    assert pg_rows(pg, target) == pg_rows(pg, source)


def test_postgres_timestamp_into_parquet_has_no_zone(spark, pg, names, tmp_path: Path):
    source = names("tsp")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id int, ts timestamp(6), tz timestamptz(6))")
        conn.execute(f"INSERT INTO {source} VALUES (1, '2024-11-03 01:30:00.000001', "
                     "'2024-03-10 07:30:00+00')")

    move(spark, pg_connection(pg), files_connection(tmp_path), source, "out")

    table = pq.read_table(tmp_path / "out")
    assert table.schema.field("ts").type == pa.timestamp("us")
    assert table.schema.field("tz").type == pa.timestamp("us", tz="UTC")
    row = table.to_pylist()[0]
    assert row["ts"] == datetime(2024, 11, 3, 1, 30, 0, 1)
    assert row["tz"] == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_mariadb_datetime_stays_a_wall_time_into_postgres(spark, pg, mariadb, names):
    source = names("dt")
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {source} (id INT, dt DATETIME(6))")
        cur.execute(f"INSERT INTO {source} VALUES (1, '2024-03-10 02:30:00.123456')")

    move(spark, mariadb_connection(mariadb), pg_connection(pg), source, source)

    assert pg_columns(pg, source)["dt"] == "timestamp(6) without time zone"
    assert [r["dt"] for r in pg_rows(pg, source)] == [
        r["dt"] for r in mariadb_rows(mariadb, source)]


def test_mariadb_tinyint1_keeps_its_number(spark, pg, mariadb, names):
    source, target = names("tiny"), names("tiny_out")
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {source} (id INT, t TINYINT(1), b BOOLEAN)")
        cur.execute(f"INSERT INTO {source} VALUES (1, 5, 1), (2, -128, 0), (3, NULL, NULL)")

    move(spark, mariadb_connection(mariadb), mariadb_connection(mariadb), source, target)
    move(spark, mariadb_connection(mariadb), pg_connection(pg), source, target)

    assert mariadb_rows(mariadb, target) == mariadb_rows(mariadb, source)
    assert [(r["t"], r["b"]) for r in pg_rows(pg, target)] == [(5, 1), (-128, 0), (None, None)]


def test_postgres_unbounded_numeric_is_carried_exactly_into_postgres(spark, pg, names):
    source, target = names("num"), names("num_out")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id int, n numeric)")
        conn.execute(f"INSERT INTO {source} VALUES (1, 0.1234567890123456789012345678901), "
                     f"(2, {'9' * 50}.5), (3, -0.000000000000000000001), (4, NULL), (5, 'NaN')")

    move(spark, pg_connection(pg), pg_connection(pg), source, target)

    assert pg_columns(pg, target)["n"] == "numeric"
    as_text = [{k: str(v) for k, v in row.items()} for row in pg_rows(pg, source)]
    assert [{k: str(v) for k, v in row.items()} for row in pg_rows(pg, target)] == as_text
    assert pg_rows(pg, target)[0]["n"] == Decimal("0.1234567890123456789012345678901")


def test_postgres_unbounded_numeric_into_mariadb_is_refused_naming_the_column(
        spark, pg, mariadb, names):
    source = names("numr")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id int, amount numeric)")
        conn.execute(f"INSERT INTO {source} VALUES (1, 0.1234567890123456789012345678901)")

    with pytest.raises(TransferError, match=r"`amount`.*numeric.*--allow-lossy amount"):
        move(spark, pg_connection(pg), mariadb_connection(mariadb), source, source)

    assert mariadb_tables(mariadb, f"{source}%") == []


def test_decimal_scale_35_moves_exactly_into_mariadb(spark, pg, mariadb, names):
    """MariaDB's DECIMAL holds 38 places (MySQL's 30: refused at plan time, see
    test_type_plan.py); the value arrives digit for digit."""
    source = names("scale")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id int, tiny numeric(38,35))")
        conn.execute(f"INSERT INTO {source} VALUES (1, 0.12345678901234567890123456789012345)")

    move(spark, pg_connection(pg), mariadb_connection(mariadb), source, source)

    assert mariadb_columns(mariadb, source)["tiny"] == "decimal(38,35)"
    assert mariadb_rows(mariadb, source) == pg_rows(pg, source)


def test_nan_into_mariadb_is_refused_with_the_column_and_the_value(spark, pg, mariadb, names):
    source = names("nan")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id int, ratio double precision)")
        conn.execute(f"INSERT INTO {source} VALUES (1, 0.5), (2, 'Infinity'), (3, 'NaN')")
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {source} (id INT, ratio DOUBLE)")
        cur.execute(f"INSERT INTO {source} VALUES (9, 9.5)")

    with pytest.raises(TransferError, match=r"`ratio`.*(Infinity|NaN).*MariaDB"):
        move(spark, pg_connection(pg), mariadb_connection(mariadb), source, source)

    assert mariadb_rows(mariadb, source) == [{"id": 9, "ratio": 9.5}]
    assert mariadb_columns(mariadb, source) == {"id": "int(11)", "ratio": "double"}
    assert mariadb_tables(mariadb, f"{source}\\_\\_dvt%") == []
    assert pg_tables(pg, f"{source}\\_\\_dvt%") == []


@pytest.mark.parametrize("route", ["arrow", "rows"])
def test_postgres_time_through_parquet_loads_into_time_columns(spark, pg, mariadb, names,
                                                               tmp_path: Path, route: str):
    """A PostgreSQL TIME written to Parquet (by Spark on the rows route, by pyarrow on the Arrow
    route: both footers keep Spark's schema and its time flag) loads back into a TIME column of
    PostgreSQL and of MariaDB with its values: the bulk loaders, which would be sent timestamps
    for it, hand the write to JDBC (it failed with "time out of range" before)."""
    from datetime import timedelta

    from dvt_connect.connectors.arrow_bulk.direct import SPARK_ROW_KEY

    source, target = names("tp"), names("tp_out")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {source} (id int, t time(3), v varchar(5))")
        conn.execute(f"INSERT INTO {source} VALUES (1, '13:45:01.123', 'abc'), "
                     "(2, NULL, 'x'), (3, '23:59:59.999', NULL)")
    lake = files_connection(tmp_path)
    transfer(spark, pg_connection(pg), lake, ReadRequest(table=TableRef(source)),
             WriteRequest(table=TableRef("out")), allow_lossy=("t",), route=route,
             connector="native")
    footer = pq.read_metadata(next((tmp_path / "out").glob("*.parquet"))).metadata
    assert SPARK_ROW_KEY in footer

    stats = move(spark, lake, pg_connection(pg), "out", target)
    assert any("TIME columns (`t`)" in note for note in stats.notes), stats.notes
    assert pg_columns(pg, target)["t"].startswith("time(")
    assert pg_rows(pg, target) == pg_rows(pg, source)

    move(spark, lake, mariadb_connection(mariadb), "out", target)
    assert mariadb_columns(mariadb, target)["t"].startswith("time(")
    assert [(r["id"], r["t"]) for r in mariadb_rows(mariadb, target)] == [
        (r["id"], None if r["t"] is None else timedelta(
            hours=r["t"].hour, minutes=r["t"].minute, seconds=r["t"].second,
            microseconds=r["t"].microsecond)) for r in pg_rows(pg, source)]
