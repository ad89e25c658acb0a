"""The type matrix: one column per type family, edge-value rows, moved through the product's own
``transfer()`` on the JDBC path and on the native bulk path in turn, and compared with the
source's values read by the source database's own client (psycopg, PyMySQL) against the target's
values read by the target's own client (psycopg, PyMySQL, pyarrow). Never one path against the
other, never through a Spark reader of the tests.

Edge values: minimum, maximum, zero, negative zero, NULL, empty string, Unicode beyond the BMP,
microsecond wall times in New York's 2024 DST gap and fold and instants around them, dates
before 1582 and at 9999-12-31, NaN and infinities (PostgreSQL only; refused into MariaDB).
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from write.fixtures import (
    files_connection,
    mariadb_client,
    mariadb_connection,
    mariadb_drop,
    mariadb_rows,
    mariadb_tables,
    pg_client,
    pg_columns,
    pg_connection,
    pg_drop,
    pg_rows,
    pg_tables,
    unique_name,
)

from dvt_connect.connectors.base import ConnectorType, ReadRequest, TableRef, WriteRequest
from dvt_connect.errors import TransferError
from dvt_connect.transfer.run import ARROW_WHY, transfer

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]

UTC = timezone.utc
# native: the bulk paths, Arrow end to end where both ends have one; native-rows: the same
# bulk paths with the rows handed through Spark (--route rows)
PATHS = ("jdbc", "native", "native-rows")
NAN, INF = float("nan"), float("inf")
FLT_MAX = 3.4028234663852886e38  # exactly float32's largest
FLT_MIN = 1.1754943508222875e-38  # float32's smallest normal
DEC_MAX = Decimal("9" * 29 + "." + "9" * 9)  # numeric(38,9)
DEC_MIN = Decimal("-" + "9" * 29 + "." + "9" * 9)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# -- PostgreSQL source ----------------------------------------------------------------------------

PG_DDL = """CREATE TABLE {table} (
  id integer PRIMARY KEY, i16 smallint, i32 integer, i64 bigint, f32 real, f64 double precision,
  num numeric(38,9), flag boolean, txt text, vc varchar(20), bin bytea, d date,
  ts timestamp(6), tstz timestamptz(6), u uuid, nf32 real, nf64 double precision)"""

# ts is a wall time (New York's gap 2024-03-10 02:00-03:00 and fold 2024-11-03 01:00-02:00);
# tstz an instant (just before and after the gap, each side of the fold).
PG_ROWS: list[tuple[Any, ...]] = [
    (1, -32768, -2147483648, -9223372036854775808, -FLT_MAX, -1.7976931348623157e308, DEC_MIN,
     False, "", "", b"", date(1000, 1, 1), datetime(1000, 1, 1), utc(1000, 1, 1),
     uuid.UUID(int=0), NAN, NAN),
    (2, 32767, 2147483647, 9223372036854775807, FLT_MAX, 1.7976931348623157e308, DEC_MAX,
     True, "𝄞😀 héllo — 日本語", "z" * 20, bytes(range(256)), date(9999, 12, 31),
     datetime(9999, 12, 31, 23, 59, 59, 999999), utc(9999, 12, 31, 23, 59, 59, 999999),
     uuid.UUID(int=2**128 - 1), INF, INF),
    (3, 0, 0, 0, 0.0, 0.0, Decimal("0.000000000"), False, " ", "𝄞", b"\x00", date(1970, 1, 1),
     datetime(1970, 1, 1), utc(1970, 1, 1), uuid.UUID("12345678-1234-5678-1234-567812345678"),
     -INF, -INF),
    (4, -1, -1, -1, -0.0, -0.0, Decimal("-0.000000001"), True, "😀", "'\"\\\n\t", b"\xff",
     date(1582, 10, 4), datetime(2024, 3, 10, 2, 30, 0, 1), utc(2024, 3, 10, 6, 59, 59, 999999),
     None, -0.0, 1.5),
    (5, 1, 1, 1, FLT_MIN, 5e-324, Decimal("0.000000001"), None, None, None, None,
     date(1582, 10, 15), datetime(2024, 11, 3, 1, 30, 0, 999999), utc(2024, 3, 10, 7), None,
     None, None),
    (6, 7, 7, 7, 1.5, 0.1, Decimal("12345.678901234"), True, "a", "b", b"\x01",
     date(2024, 2, 29), datetime(2024, 3, 10, 3, 0), utc(2024, 11, 3, 5, 30, 0, 1), None,
     0.0, 0.0),
    (7, None, None, None, None, None, None, None, None, None, None, None,
     datetime(2024, 11, 3, 1, 0), utc(2024, 11, 3, 6, 30, 0, 1), None, None, None),
    (8,) + (None,) * 16,
]
PG_FLOAT32 = ("f32", "nf32")
# NaN and infinities (nf32, nf64) are values MariaDB cannot hold: left out of the move there and
# refused on their own.
NONFINITE = ("nf32", "nf64")
PG_FINITE = ("id", "i16", "i32", "i64", "f32", "f64", "num", "flag", "txt", "vc", "bin", "d", "ts",
             "tstz", "u")
PG_INSTANTS = ("tstz",)


# -- MariaDB source -------------------------------------------------------------------------------

MARIADB_DDL = """CREATE TABLE {table} (
  id INT PRIMARY KEY, i8 TINYINT, b1 TINYINT(1), i16 SMALLINT, i24 MEDIUMINT, i32 INT,
  i64 BIGINT, u32 INT UNSIGNED, u64 BIGINT UNSIGNED, f64 DOUBLE, num DECIMAL(38,9),
  flag BOOLEAN, txt LONGTEXT, vc VARCHAR(20), bin LONGBLOB, d DATE, ts DATETIME(6),
  tstz TIMESTAMP(6) NULL, yr YEAR, en ENUM('a','𝄞'), js JSON)
  ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""

# tstz holds MariaDB TIMESTAMP's own range (1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC),
# inserted as UTC walls (the client's session is UTC).
MARIADB_ROWS: list[tuple[Any, ...]] = [
    (1, -128, -128, -32768, -8388608, -2147483648, -9223372036854775808, 0, 0,
     -1.7976931348623157e308, DEC_MIN, False, "", "", b"", date(1000, 1, 1),
     datetime(1000, 1, 1), datetime(1970, 1, 1, 0, 0, 1), 1901, "a", "{}"),
    (2, 127, 5, 32767, 8388607, 2147483647, 9223372036854775807, 4294967295,
     18446744073709551615, 1.7976931348623157e308, DEC_MAX, True, "𝄞😀 héllo — 日本語",
     "z" * 20, bytes(range(256)), date(9999, 12, 31), datetime(9999, 12, 31, 23, 59, 59, 999999),
     datetime(2038, 1, 19, 3, 14, 7, 999999), 2155, "𝄞", '{"k": "😀", "n": [1, 2.5]}'),
    (3, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, Decimal("0.000000000"), False, " ", "𝄞", b"\x00",
     date(1970, 1, 1), datetime(2024, 3, 10, 2, 30, 0, 1), datetime(2024, 3, 10, 6, 59, 59, 999999),
     2000, "a", "[]"),
    (4, -1, 1, -1, -1, -1, -1, 1, 1, -0.0, Decimal("-0.000000001"), True, "😀", "'\"\\\n\t",
     b"\xff", date(1582, 10, 4), datetime(2024, 11, 3, 1, 30, 0, 999999),
     datetime(2024, 11, 3, 5, 30, 0, 1), 0, None, None),
    (5, 1, None, 1, 1, 1, 1, 7, 7, 5e-324, Decimal("0.000000001"), None, None, None, None,
     date(1582, 10, 15), datetime(2024, 3, 10, 3, 0), datetime(2024, 11, 3, 6, 30, 0, 1),
     None, None, None),
    (6,) + (None,) * 20,
]
MARIADB_INSTANTS = ("tstz",)


# -- reading with each database's own client ----------------------------------------------------

def canon(value: Any, column: str, *, float32: tuple[str, ...] = (),
          instants: tuple[str, ...] = (), booleans: tuple[str, ...] = (),
          signed_zero: bool = True) -> Any:
    """A value as the tests compare it: floats by their exact bits (so -0.0 and NaN count),
    REAL/FLOAT as float32, instants in UTC, 0/1 booleans as bools, bytes and UUIDs plain."""
    if value is None:
        return None
    if column in booleans:
        return bool(value)
    if isinstance(value, float):
        if column in float32:
            value = struct.unpack("f", struct.pack("f", value))[0]
        if not signed_zero and value == 0.0:
            value = 0.0
        return "NaN" if math.isnan(value) else repr(value)
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime) and column in instants:
        if value.tzinfo is None:  # a MariaDB instant: its UTC wall time
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return value


def as_source(source_rows: list[dict[str, Any]], target_rows: list[dict[str, Any]],
              *, leave_out: tuple[str, ...] = (), **how: Any) -> None:
    """Target rows equal the source's, column by column (those in ``leave_out`` were not
    moved)."""
    def canon_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(({k: canon(v, k, **how) for k, v in r.items() if k not in leave_out}
                       for r in rows), key=lambda r: r["id"])

    expected, got = canon_rows(source_rows), canon_rows(target_rows)
    assert [list(r) for r in got] == [list(r) for r in expected]  # same columns, same rows
    for want, have in zip(expected, got, strict=True):
        diff = {k: (want[k], have[k]) for k in want if want[k] != have[k]}
        assert diff == {}, f"row {want['id']}: column: (source, target) = {diff}"


# MariaDB has no negative zero: its own client's `INSERT ... VALUES (-0e0)` reads back 0.
INTO_MARIADB = {"signed_zero": False}


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sources(pg: dict[str, Any], mariadb: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The source tables, made once by the databases' own clients."""
    made = {"pg": unique_name("dvtm_pg"), "mariadb": unique_name("dvtm_maria")}
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute(PG_DDL.format(table=made["pg"]))
        marks = ", ".join(["%s"] * len(PG_ROWS[0]))
        cur.executemany(f"INSERT INTO {made['pg']} VALUES ({marks})", PG_ROWS)
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(MARIADB_DDL.format(table=made["mariadb"]))
        marks = ", ".join(["%s"] * len(MARIADB_ROWS[0]))
        cur.executemany(f"INSERT INTO {made['mariadb']} VALUES ({marks})", MARIADB_ROWS)
    yield made
    pg_drop(pg, made["pg"])
    mariadb_drop(mariadb, made["mariadb"])


@pytest.fixture
def target_name(pg: dict[str, Any], mariadb: dict[str, Any]) -> Iterator[str]:
    """A fresh target table name, dropped (with any staging table) in both servers after."""
    name = unique_name("dvtm_out")
    yield name
    pg_drop(pg, name)
    mariadb_drop(mariadb, name)


def move(spark: Any, source: Any, target: Any, table: str, target_table: str, path: str,
         columns: tuple[str, ...] = (), arrow_possible: bool = True) -> Any:
    """The product's own transfer, its connector forced to ``path`` (``native``: the source's
    bulk export, and the target's bulk load where it has one)."""
    connector = "native" if path.startswith("native") else path
    stats = transfer(spark, source, target, ReadRequest(table=TableRef(table), columns=columns),
                     WriteRequest(table=TableRef(target_table)), connector=connector,
                     route="rows" if path == "native-rows" else "auto")
    assert (stats.connector is ConnectorType.JDBC) == (path == "jdbc"), stats.reason
    arrow = stats.notes[0] == ARROW_WHY
    # Arrow end to end whenever both ends have a bulk path (files: Parquet only)
    both = target.is_files and target.format == "parquet" or not target.is_files
    assert arrow == (path == "native" and both and arrow_possible), stats.notes[0]
    return stats


# -- the matrix -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
def test_postgres_to_postgres(spark: Any, pg: dict[str, Any], sources: Mapping[str, str],
                              target_name: str, path: str) -> None:
    # the declared types kept (uuid from its text) need JDBC's write, so Spark rows;
    # a declared varchar(20) alone (MariaDB to MariaDB) takes the bulk load
    move(spark, pg_connection(pg), pg_connection(pg), sources["pg"], target_name, path,
         arrow_possible=False)

    assert pg_columns(pg, target_name) == pg_columns(pg, sources["pg"])  # declared types kept
    as_source(pg_rows(pg, sources["pg"]), pg_rows(pg, target_name),
              float32=PG_FLOAT32, instants=PG_INSTANTS)


def test_postgres_to_postgres_declared_numeric_is_arrow_end_to_end(
        spark: Any, pg: dict[str, Any], sources: Mapping[str, str], target_name: str) -> None:
    # numeric(38,9) is declared but read as decimal(38,9), not as text: the bulk load takes it,
    # so without the uuid the move is Arrow end to end (it was JDBC's write: 2.7x slower at 1M)
    # (PostgreSQL to PostgreSQL: each task pipes the binary COPY from server to server)
    columns = tuple(c for c in (*PG_FINITE, *NONFINITE) if c != "u")
    stats = move(spark, pg_connection(pg), pg_connection(pg), sources["pg"], target_name,
                 "native", columns=columns)
    assert any("pipes its partition's binary COPY" in n for n in stats.notes), stats.notes

    source_columns = pg_columns(pg, sources["pg"])
    assert source_columns["num"] == "numeric(38,9)"
    assert pg_columns(pg, target_name) == {c: source_columns[c] for c in columns}
    as_source(pg_rows(pg, sources["pg"]), pg_rows(pg, target_name), leave_out=("u",),
              float32=PG_FLOAT32, instants=PG_INSTANTS)


@pytest.mark.parametrize("path", PATHS)
def test_postgres_to_mariadb(spark: Any, pg: dict[str, Any], mariadb: dict[str, Any],
                             sources: Mapping[str, str], target_name: str, path: str) -> None:
    move(spark, pg_connection(pg), mariadb_connection(mariadb), sources["pg"], target_name,
         path, columns=PG_FINITE)

    as_source(pg_rows(pg, sources["pg"]), mariadb_rows(mariadb, target_name),
              leave_out=NONFINITE, float32=PG_FLOAT32, instants=PG_INSTANTS,
              booleans=("flag",), **INTO_MARIADB)


@pytest.mark.parametrize("path", PATHS)
def test_mariadb_to_postgres(spark: Any, pg: dict[str, Any], mariadb: dict[str, Any],
                             sources: Mapping[str, str], target_name: str, path: str) -> None:
    move(spark, mariadb_connection(mariadb), pg_connection(pg), sources["mariadb"],
         target_name, path)

    as_source(mariadb_rows(mariadb, sources["mariadb"]), pg_rows(pg, target_name),
              instants=MARIADB_INSTANTS, booleans=("flag",))


@pytest.mark.parametrize("path", PATHS)
def test_mariadb_to_mariadb(spark: Any, mariadb: dict[str, Any], sources: Mapping[str, str],
                            target_name: str, path: str) -> None:
    move(spark, mariadb_connection(mariadb), mariadb_connection(mariadb), sources["mariadb"],
         target_name, path)

    as_source(mariadb_rows(mariadb, sources["mariadb"]), mariadb_rows(mariadb, target_name),
              instants=MARIADB_INSTANTS)


@pytest.mark.parametrize("path", PATHS)
def test_postgres_to_parquet(spark: Any, pg: dict[str, Any], sources: Mapping[str, str],
                             tmp_path: Path, path: str) -> None:
    move(spark, pg_connection(pg), files_connection(tmp_path), sources["pg"], "out", path)

    as_source(pg_rows(pg, sources["pg"]), pq.read_table(tmp_path / "out").to_pylist(),
              float32=PG_FLOAT32, instants=PG_INSTANTS)


def from_parquet(spark: Any, lake: Path, target: Any, target_table: str, route: str) -> None:
    """Parquet that Spark wrote, into ``target`` on ``route`` (arrow: pyarrow reads the files
    in each task)."""
    stats = transfer(spark, files_connection(lake), target, ReadRequest(table=TableRef("out")),
                     WriteRequest(table=TableRef(target_table)), route=route)
    assert (stats.notes[0] == ARROW_WHY) == (route == "arrow"), stats.notes[0]


@pytest.mark.parametrize("route", ["arrow", "rows"])
def test_parquet_to_postgres(spark: Any, pg: dict[str, Any], sources: Mapping[str, str],
                             target_name: str, tmp_path: Path, route: str) -> None:
    move(spark, pg_connection(pg), files_connection(tmp_path), sources["pg"], "out", "jdbc")
    from_parquet(spark, tmp_path, pg_connection(pg), target_name, route)

    as_source(pg_rows(pg, sources["pg"]), pg_rows(pg, target_name),
              float32=PG_FLOAT32, instants=PG_INSTANTS)


def test_one_parquet_file_is_read_by_a_task_per_core(spark: Any, pg: dict[str, Any],
                                                      target_name: str, tmp_path: Path) -> None:
    """A single file of many row groups is cut into runs of row groups, one task per core
    (each at least 100,000 rows); every row arrives once, as pyarrow reads the file."""
    import pyarrow as pa

    rows = 250_000
    ids = pa.array(range(rows), pa.int64())
    table = pa.table({
        "id": ids,
        "amount": pa.array([Decimal(i) / 100 for i in range(rows)], pa.decimal128(12, 2)),
        "ts": pa.array([i * 1_000_003 for i in range(rows)], pa.timestamp("us", tz="UTC")),
        "txt": pa.array([None if i % 7 == 0 else f"r{i}" for i in range(rows)], pa.string())})
    (tmp_path / "one").mkdir()
    pq.write_table(table, tmp_path / "one" / "data.parquet", row_group_size=10_000)

    stats = transfer(spark, files_connection(tmp_path), pg_connection(pg),
                     ReadRequest(table=TableRef("one")), WriteRequest(table=TableRef(target_name)),
                     route="arrow")

    tasks = min(spark.sparkContext.defaultParallelism, 3)
    assert stats.partitions == tasks, stats
    assert stats.rows == rows
    expected = pq.read_table(tmp_path / "one" / "data.parquet").to_pylist()
    assert pg_rows(pg, target_name) == expected


def test_parquet_read_as_spark_rows_counts_the_tasks_spark_cut_it_into(
        spark: Any, pg: dict[str, Any], target_name: str, tmp_path: Path) -> None:
    """On the rows route Spark cuts files into tasks by size itself (the plan has one partition
    for a folder): the stats count the partitions Spark planned for the read, the tasks that
    read it."""
    import pyarrow as pa

    rows = 200_000
    table = pa.table({"id": pa.array(range(rows), pa.int64()),
                      "txt": pa.array([f"row {i}" for i in range(rows)], pa.string())})
    (tmp_path / "one").mkdir()
    pq.write_table(table, tmp_path / "one" / "data.parquet", row_group_size=10_000)
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(256 * 1024))
    try:
        cut = spark.read.parquet(str(tmp_path / "one")).rdd.getNumPartitions()
        stats = transfer(spark, files_connection(tmp_path), pg_connection(pg),
                         ReadRequest(table=TableRef("one")),
                         WriteRequest(table=TableRef(target_name)), route="rows")
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")

    assert cut > 1
    assert stats.partitions == cut, stats
    assert stats.rows == rows
    assert len(pg_rows(pg, target_name)) == rows


@pytest.mark.parametrize("route", ["arrow", "rows"])
def test_parquet_to_mariadb(spark: Any, pg: dict[str, Any], mariadb: dict[str, Any],
                            sources: Mapping[str, str], target_name: str, tmp_path: Path,
                            route: str) -> None:
    move(spark, pg_connection(pg), files_connection(tmp_path), sources["pg"], "out", "jdbc",
         columns=PG_FINITE)
    from_parquet(spark, tmp_path, mariadb_connection(mariadb), target_name, route)

    as_source(pg_rows(pg, sources["pg"]), mariadb_rows(mariadb, target_name),
              leave_out=NONFINITE, float32=PG_FLOAT32, instants=PG_INSTANTS,
              booleans=("flag",), **INTO_MARIADB)


@pytest.mark.parametrize("path", PATHS)
def test_nan_and_infinities_into_mariadb_are_refused(
        spark: Any, pg: dict[str, Any], mariadb: dict[str, Any], sources: Mapping[str, str],
        target_name: str, path: str) -> None:
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {target_name} (id INT, nf32 DOUBLE, nf64 DOUBLE)")
        cur.execute(f"INSERT INTO {target_name} VALUES (9, 9.5, -9.5)")

    with pytest.raises(TransferError,
                       match=r"column `nf(32|64)` holds (NaN|Infinity|-Infinity), which "
                             r"MySQL/MariaDB cannot store") as caught:
        move(spark, pg_connection(pg), mariadb_connection(mariadb), sources["pg"],
             target_name, path, columns=("id",) + NONFINITE)

    assert str(caught.value).count("left as it was") == 1
    assert mariadb_rows(mariadb, target_name) == [{"id": 9, "nf32": 9.5, "nf64": -9.5}]
    assert mariadb_tables(mariadb, f"{target_name}\\_\\_dvt%") == []
    assert pg_tables(pg, f"{target_name}\\_\\_dvt%") == []


def file_value(column: str, raw: Any) -> Any:
    """A value of a JSON or CSV target back in the source's Python type (decimals as Decimal,
    binary from base64, times from ISO text)."""
    import base64

    if raw is None:
        return None
    if column in ("f32", "f64", "nf32", "nf64"):
        return float(raw)  # numbers, or "NaN" / "Infinity" / "-Infinity" as text
    if column == "num":
        return Decimal(str(raw))
    if column == "bin":
        return base64.b64decode(raw)
    if column == "d":
        return date.fromisoformat(raw)
    if column in ("ts", "tstz"):
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if column == "u":
        return uuid.UUID(raw)
    if column in ("i16", "i32", "i64", "id"):
        return int(raw)
    if column == "flag":
        return {"true": True, "false": False}.get(raw, raw) if isinstance(raw, str) else raw
    return raw


def json_rows(folder: Path) -> list[dict[str, Any]]:
    """A JSON-lines target read with the standard library."""
    import json

    rows = []
    for part in sorted(folder.glob("part-*")):
        for line in part.read_text(encoding="utf-8").splitlines():
            data = json.loads(line, parse_float=Decimal)
            rows.append({k: file_value(k, v) for k, v in data.items()})
    return rows


def csv_rows(folder: Path) -> list[dict[str, Any]]:
    """A CSV target read with pyarrow's CSV reader (RFC 4180: quotes doubled, newlines inside
    quotes), every column as text: an unquoted empty field is NULL, a quoted one the empty
    string."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rows = []
    for part in sorted(folder.glob("part-*")):
        if not part.stat().st_size:
            continue
        names = part.read_text(encoding="utf-8").splitlines()[0].split(",")
        table = pcsv.read_csv(part, parse_options=pcsv.ParseOptions(newlines_in_values=True),
                              convert_options=pcsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=False))
        rows += [{k: file_value(k, v) for k, v in r.items()} for r in table.to_pylist()]
    return rows


@pytest.mark.parametrize("path", PATHS)
def test_postgres_to_json(spark: Any, pg: dict[str, Any], sources: Mapping[str, str],
                          tmp_path: Path, path: str) -> None:
    move(spark, pg_connection(pg), files_connection(tmp_path, "json"), sources["pg"], "out",
         path)

    as_source(pg_rows(pg, sources["pg"]), json_rows(tmp_path / "out"),
              float32=PG_FLOAT32, instants=PG_INSTANTS)


@pytest.mark.parametrize("path", PATHS)
def test_postgres_to_csv(spark: Any, pg: dict[str, Any], sources: Mapping[str, str],
                         tmp_path: Path, path: str) -> None:
    """CSV cannot hold binary: refused naming the column, nothing written; the other columns
    arrive as they left."""
    csv = files_connection(tmp_path, "csv")
    with pytest.raises(TransferError, match=r"CSV files cannot hold column\(s\) `bin` \(binary\)"):
        move(spark, pg_connection(pg), csv, sources["pg"], "out", path)
    assert not (tmp_path / "out").exists()

    text_columns = tuple(c for c in PG_FINITE + NONFINITE if c != "bin")
    move(spark, pg_connection(pg), csv, sources["pg"], "out", path, columns=text_columns)

    as_source(pg_rows(pg, sources["pg"]), csv_rows(tmp_path / "out"), leave_out=("bin",),
              float32=PG_FLOAT32, instants=PG_INSTANTS)
