"""PostgreSQL to PostgreSQL on the Arrow route: each task pipes the source's binary COPY into the
staging table's binary COPY (``postgres_native.driver.copy_partition``), every column selected
as the value the Arrow batches would have carried. Moved by the product's own ``transfer()``
on the real server; the target read back with psycopg and compared with the source read with
psycopg."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from write.fixtures import pg_client, pg_columns, pg_connection, pg_rows, pg_tables

from dvt_connect.connectors.arrow_bulk.columns import BulkRead, ColumnRead
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.postgres_native.connector import pg_copy_selects
from dvt_connect.errors import TransferError
from dvt_connect.transfer.run import ARROW_WHY, plan_transfer, transfer

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

PIPED = "each task pipes its partition's binary COPY"

DDL = """CREATE TABLE {table} (
  id integer PRIMARY KEY, c5 char(5), vc varchar(10), txt text, n2 numeric(10,2),
  n30 numeric(30,5), i16 smallint, f32 real, f64 double precision, flag boolean, b bytea,
  d date, ts timestamp(6), tstz timestamptz(6))"""

ROWS = [
    (1, "ab", "", "𝄞😀 héllo", Decimal("12345678.91"), Decimal("-1234567890123456789012345.12345"),
     -32768, -0.0, float("nan"), True, b"\x00\xff", "1000-01-01", "2024-03-10 02:30:00.000001",
     "2024-11-03 05:30:00.000001+00"),
    (2, "", " x", "", Decimal("-0.01"), Decimal("0.00001"), 32767, float("inf"), 5e-324, False,
     b"", "9999-12-31", "9999-12-31 23:59:59.999999", "1970-01-01 00:00:00+00"),
    (3, "abcde", "0123456789", "'\"\\\n\t", Decimal("0"), Decimal("99999999999999999999999.99999"),
     0, 1.5, -1.7976931348623157e308, None, b"\x01", "1582-10-04", "2024-11-03 01:30:00.999999",
     "2024-03-10 06:59:59.999999+00"),
    (4,) + (None,) * 13,
]


def _make(pg: dict[str, Any], table: str, rows: list[tuple[Any, ...]] = ROWS) -> None:
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute(DDL.format(table=table))
        marks = ", ".join(["%s"] * len(rows[0]))
        cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        cur.execute(f"ANALYZE {table}")


def _run(pg: dict[str, Any], *statements: str) -> None:
    with pg_client(pg) as conn:
        for sql in statements:
            conn.execute(sql)


def _move(spark: Any, pg: dict[str, Any], read: ReadRequest, target: str,
          mode: str = "overwrite") -> Any:
    return transfer(spark, pg_connection(pg), pg_connection(pg), read,
                    WriteRequest(table=TableRef(target), mode=mode), connector="native")


def _canon(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Floats by their text (NaN, -0.0 and the float32 column compare), everything else as
    psycopg returns it."""
    return [{k: repr(v) if isinstance(v, float) else v for k, v in r.items()} for r in rows]


def test_every_column_is_piped_exactly(spark: Any, pg: dict[str, Any], pg_names: Any) -> None:
    source, target = pg_names("pipe_src"), pg_names("pipe_out")
    _make(pg, source)

    stats = _move(spark, pg, ReadRequest(table=TableRef(source)), target)

    assert stats.notes[0] == ARROW_WHY
    assert any(PIPED in n for n in stats.notes), stats.notes
    assert stats.rows == len(ROWS) and stats.bytes > 0
    columns = pg_columns(pg, target)
    assert columns["c5"] == "character(5)" and columns["n2"] == "numeric(10,2)", columns
    assert _canon(pg_rows(pg, target)) == _canon(pg_rows(pg, source))
    # char(5)'s blank padding arrives: `ab` is `ab   `, the empty string five blanks
    with pg_client(pg) as conn:
        padded = conn.execute(f"SELECT octet_length(c5::bytea) FROM {target} "
                              "WHERE id IN (1, 2) ORDER BY id").fetchall()
    assert padded == [(5,), (5,)]


def test_many_partitions_pipe_every_row_once(spark: Any, pg: dict[str, Any],
                                             pg_names: Any) -> None:
    source, target = pg_names("pipe_big"), pg_names("pipe_bout")
    _run(pg, f"CREATE TABLE {source} (id bigint PRIMARY KEY, n numeric(12,2), s text)",
         f"INSERT INTO {source} SELECT g, g / 100.0, 'row ' || g "
         "FROM generate_series(1, 200000) g", f"ANALYZE {source}")

    stats = transfer(spark, pg_connection(pg), pg_connection(pg),
                     ReadRequest(table=TableRef(source), partitions=4),
                     WriteRequest(table=TableRef(target)), connector="native")

    assert any(PIPED in n for n in stats.notes), stats.notes
    assert stats.rows == 200_000 and stats.partitions == 4
    digest = ("SELECT count(*), count(DISTINCT id), sum(n), "
              "md5(string_agg(s, ',' ORDER BY id)) FROM {}")
    with pg_client(pg) as conn:
        assert (conn.execute(digest.format(target)).fetchone()
                == conn.execute(digest.format(source)).fetchone())


def test_an_error_in_the_source_query_leaves_the_target_as_it_was(
        spark: Any, pg: dict[str, Any], pg_names: Any) -> None:
    source, target = pg_names("pipe_bad"), pg_names("pipe_kept")
    _run(pg, f"CREATE TABLE {source} (id bigint PRIMARY KEY, v integer)",
         f"INSERT INTO {source} SELECT g, g FROM generate_series(1, 50000) g",
         f"ANALYZE {source}", f"CREATE TABLE {target} (id bigint, v integer)",
         f"INSERT INTO {target} VALUES (7, 7)")
    # valid SQL that fails on row 40,000, while the stream is running
    query = f"SELECT id, 100 / (v - 40000) AS v FROM {source}"
    planned = plan_transfer(spark, pg_connection(pg), pg_connection(pg), ReadRequest(query=query),
                            WriteRequest(table=TableRef(target)), connector="native")[0]
    assert any(PIPED in n for n in planned.write_notes), planned.write_notes  # --dry-run says it

    with pytest.raises(TransferError) as failed:
        _move(spark, pg, ReadRequest(query=query), target)

    assert "division by zero" in str(failed.value), failed.value
    assert "Traceback" not in str(failed.value)
    assert pg_rows(pg, target) == [{"id": 7, "v": 7}]
    assert pg_tables(pg, f"{target}%dvt%") == []


def test_a_value_the_target_refuses_fails_the_move_and_keeps_the_target(
        spark: Any, pg: dict[str, Any], pg_names: Any) -> None:
    source, target = pg_names("pipe_long"), pg_names("pipe_short")
    _run(pg, f"CREATE TABLE {source} (id bigint PRIMARY KEY, s text)",
         f"INSERT INTO {source} VALUES (1, 'abc'), (2, 'abcdef')",
         f"CREATE TABLE {target} (id bigint, s varchar(3))",
         f"INSERT INTO {target} VALUES (0, 'old')")

    with pytest.raises(TransferError) as failed:
        _move(spark, pg, ReadRequest(table=TableRef(source)), target, mode="append")

    assert "value too long for type character varying(3)" in str(failed.value), failed.value
    assert pg_rows(pg, target) == [{"id": 0, "s": "old"}]


def _read(columns: tuple[ColumnRead, ...], types: list[tuple[str, str, str]],
          time_zone: str = "UTC", values: bool = True) -> BulkRead:
    from pyspark.sql.types import StructField, StructType, _parse_datatype_string

    schema = StructType([StructField(n, _parse_datatype_string(t), True, {"jdbcClientType": pg})
                         for n, t, pg in types])
    return BulkRead(dialect="postgres", params={}, queries=("SELECT 1",), columns=columns,
                    schema_json=schema.json(), time_zone=time_zone,
                    value_queries=("SELECT 2",) if values else ())


def test_the_selects_cast_only_where_the_cast_is_the_arrow_conversion() -> None:
    def quote(name: str) -> str:
        return f'"{name}"'

    scaled = ColumnRead("a", "(round(a, 2) * 100)::int8", "scaled", value="round(a, 2)")
    read = _read((scaled, ColumnRead("b", "y", "decimal"),
                  ColumnRead("c", "c"), ColumnRead("d", "d"), ColumnRead("e", "e", "wall_time"),
                  ColumnRead("f", "f")),
                 [("a", "decimal(12,2)", "numeric"), ("b", "decimal(38,9)", "numeric"),
                  ("c", "string", "bpchar"), ("d", "string", "varchar"),
                  ("e", "timestamp", "timestamp"), ("f", "double", "float4")])
    assert pg_copy_selects(read, quote) == (
        '(q."a")::numeric(12,2)', '(q."b")::numeric(38,9)',  # the rounded value, its text
        'q."c"',  # bpchar's binary form is text's, padding kept; ::text would trim it
        '(q."d")::text', "(q.\"e\")::timestamp AT TIME ZONE 'UTC'", '(q."f")::float8')

    # a scaled integer without its value: the pipe has nothing exact to select
    unscaled = pg_copy_selects(_read((scaled,), [("a", "decimal(12,2)", "numeric")],
                                     values=False), quote)
    assert isinstance(unscaled, str) and "`a`" in unscaled

    # a wall time read in a zone with daylight saving: PostgreSQL and Arrow differ in the gap
    zoned = _read((ColumnRead("e", "e", "wall_time"),), [("e", "timestamp", "timestamp")],
                  time_zone="America/New_York")
    why = pg_copy_selects(zoned, quote)
    assert isinstance(why, str) and "`e`" in why and "America/New_York" in why


def test_the_tasks_show_no_password() -> None:
    from dvt_connect.connectors.arrow_bulk.direct import BulkSink, BulkSource, PipeTask

    shown = repr((PipeTask("{}", "s3cret-read", ("q.a",), "{}", "s3cret-write"),
                  BulkSource("{}", "s3cret-read"), BulkSink("{}", "s3cret-write")))
    assert "s3cret" not in shown, shown
