"""A typed fixture table, the same values in PostgreSQL, MariaDB, Derby and Spark, and readers
that check a target with the database's own Python client (not through Spark).

Reusable by later end-to-end tests: :func:`create_pg_typed`, :func:`create_mariadb_typed`,
:func:`typed_dataframe` (seed any target, e.g. Derby), :func:`expected_rows`.

Every value is chosen to catch a silent change: decimals at Spark's maximum precision (38) and
scale, timestamps with microseconds in and around daylight-saving changes (America/New_York
2024-03-10 gap and 2024-11-03 fold; Europe/Berlin 2024-10-27 fold), unicode beyond the BMP,
empty strings and bytes, NULLs.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from dvt_connect.config.profiles import Connection, parse_connection
from dvt_connect.connectors.base import ReadRequest, TableRef

UTC = timezone.utc

COLUMNS = ("id", "flag", "i16", "i32", "i64", "f32", "f64", "dec_small", "dec_max", "dec_frac",
           "txt", "vc", "bin", "d", "ts", "tstz")

# Written out: unary minus on a Decimal rounds to the context's 28 digits.
D38 = Decimal("9" * 38)
NEG_D38 = Decimal("-" + "9" * 38)
F38 = Decimal("0." + "9" * 38)
NEG_F38 = Decimal("-0." + "9" * 38)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
         micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# One tuple per row, in COLUMNS order. f32 values are exact float32 values; ts is a wall time
# (timestamp without time zone), tstz an instant.
ROWS: list[tuple[Any, ...]] = [
    (1, True, 1, 2, 3, 3.1415927410125732, 2.718281828459045, Decimal("12345678.90"), D38,
     Decimal("0.12345678901234567890123456789012345678"), "héllo wörld — 日本語 🚀 ", "abc",
     b"\x00\xff\x10", date(2024, 3, 10), datetime(2024, 3, 10, 2, 30, 0, 123456),
     _utc(2024, 3, 10, 6, 30, 0, 123456)),  # 01:30 EST, just before the New York gap
    (2, False, -32768, -2147483648, -9223372036854775808, -3.4028234663852886e38, 1e308,
     Decimal("-99999999.99"), NEG_D38, NEG_F38, "it's \"quoted\" \\ back\nslash\ttab", "",
     b"", date(1970, 1, 1), datetime(2024, 11, 3, 1, 30), _utc(2024, 3, 10, 7, 30)),
    (3, True, 32767, 2147483647, 9223372036854775807, 1.5, -0.0, Decimal("0.00"),
     Decimal(0), Decimal("0E-38"), "", "z" * 20, bytes(range(256)), date(9999, 12, 31),
     datetime(2024, 10, 27, 2, 30, 0, 999999), _utc(2024, 11, 3, 5, 30)),  # 01:30 EDT
    (4, False, 0, 0, 0, -0.25, 5e-324, Decimal("0.01"), Decimal(1), Decimal("1E-38"),
     "Ωmega ∑ 𝄞 \u00a0nbsp", "ünï", b"\xde\xad\xbe\xef", date(2000, 2, 29),
     datetime(1999, 12, 31, 23, 59, 59, 999999), _utc(2024, 11, 3, 6, 30)),  # 01:30 EST
    (5, True, 7, 7, 7, 1024.0, 0.1, Decimal("-0.01"), Decimal("-1"), Decimal("-1E-38"),
     "a" * 5000, "x", b"\x01", date(1900, 1, 1), datetime(2038, 1, 19, 3, 14, 8),
     _utc(2024, 10, 27, 0, 30, 0, 1)),  # 02:30 CEST, Berlin's first 02:30
    (6, False, 1, 1, 1, 2.0, 1.0, Decimal("1.00"), Decimal(2), Decimal("0.5"), "b", "y",
     b"\x02", date(2024, 10, 27), datetime(2000, 1, 1), _utc(2024, 10, 27, 1, 30)),  # CET
    (7,) + (None,) * (len(COLUMNS) - 1),
]

# MariaDB's FLOAT columns reach any client as text rounded to 6 significant digits, so its
# fixture keeps f32 values with at most 6 (they read back exactly).
MARIADB_F32 = {1: 3.14159, 2: -3.40282e38}

PG_DDL = """
CREATE TABLE {table} (
  id integer NOT NULL, flag boolean, i16 smallint, i32 integer, i64 bigint, f32 real,
  f64 double precision, dec_small numeric(10,2), dec_max numeric(38,0),
  dec_frac numeric(38,38), txt text, vc varchar(20), bin bytea, d date, ts timestamp(6),
  tstz timestamptz(6))
"""

MARIADB_DDL = """
CREATE TABLE {table} (
  id INT NOT NULL, flag BOOLEAN, i16 SMALLINT, i32 INT, i64 BIGINT, f32 FLOAT, f64 DOUBLE,
  dec_small DECIMAL(10,2), dec_max DECIMAL(38,0), dec_frac DECIMAL(38,38), txt LONGTEXT,
  vc VARCHAR(20), bin LONGBLOB, d DATE, ts DATETIME(6), tstz TIMESTAMP(6) NULL)
  ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""


def float32(value: float | None) -> float | None:
    return None if value is None else struct.unpack("f", struct.pack("f", value))[0]


def expected_rows(*, mariadb_source: bool = False) -> list[dict[str, Any]]:
    rows = []
    for row in ROWS:
        values = dict(zip(COLUMNS, row, strict=True))
        if mariadb_source and values["id"] in MARIADB_F32:
            values["f32"] = float32(MARIADB_F32[values["id"]])
        rows.append(values)
    return rows


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# -- connections ------------------------------------------------------------------------------

def connection(name: str, data: dict[str, Any]) -> Connection:
    return parse_connection(name, data, path=Path("profiles.yml"), key=f"test.outputs.{name}")


def pg_connection(pg: dict[str, Any], **extra: Any) -> Connection:
    return connection("pg", {"type": "postgres", "host": pg["host"], "port": pg["port"],
                             "user": pg["user"], "password": pg.get("password", ""),
                             "dbname": pg["database"], "schema": "public", **extra})


def mariadb_connection(db: dict[str, Any], **extra: Any) -> Connection:
    return connection("maria", {"type": "mariadb", "host": db["host"], "port": db["port"],
                                "user": db["user"], "password": db.get("password", ""),
                                "schema": db["database"],
                                **extra})


def derby_connection(path: Path) -> Connection:
    return connection("derby", {"type": "derby", "path": str(path)})


def files_connection(path: Path | str, fmt: str = "parquet", **extra: Any) -> Connection:
    return connection("lake", {"type": "files", "path": str(path), "format": fmt, **extra})


# -- database clients ---------------------------------------------------------------------------

@contextmanager
def pg_client(pg: dict[str, Any]) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(host=pg["host"], port=pg["port"], user=pg["user"],
                         password=pg.get("password", ""), dbname=pg["database"],
                         autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        yield conn


@contextmanager
def mariadb_client(db: dict[str, Any]) -> Iterator[Any]:
    import pymysql

    conn = pymysql.connect(host=db["host"], port=db["port"], user=db["user"],
                           password=db.get("password", ""),
                           database=db["database"], charset="utf8mb4", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
        yield conn
    finally:
        conn.close()


def create_pg_typed(pg: dict[str, Any], table: str, *, rows: bool = True) -> None:
    with pg_client(pg) as conn:
        conn.execute(PG_DDL.format(table=table))
        if rows:
            marks = ", ".join(["%s"] * len(COLUMNS))
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} VALUES ({marks})", ROWS)


def create_mariadb_typed(db: dict[str, Any], table: str, *, rows: bool = True) -> None:
    with mariadb_client(db) as conn, conn.cursor() as cur:
        cur.execute(MARIADB_DDL.format(table=table))
        if rows:
            marks = ", ".join(["%s"] * len(COLUMNS))
            data = []
            for values in expected_rows(mariadb_source=True):
                row = list(values.values())
                # pymysql sends aware datetimes as their wall time: give it UTC's
                if row[-1] is not None:
                    row[-1] = row[-1].astimezone(UTC).replace(tzinfo=None)
                data.append(row)
            cur.executemany(f"INSERT INTO {table} VALUES ({marks})", data)


def pg_rows(pg: dict[str, Any], table: str, schema: str = "public") -> list[dict[str, Any]]:
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1')
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def pg_columns(pg: dict[str, Any], table: str, schema: str = "public") -> dict[str, str]:
    """column -> formatted type (``numeric(38,0)``, ``timestamp with time zone``)."""
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum", (schema, table))
        return dict(cur.fetchall())


def pg_tables(pg: dict[str, Any], like: str) -> list[str]:
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                    "WHERE table_name LIKE %s", (like,))
        return [r[0] for r in cur.fetchall()]


def pg_drop(pg: dict[str, Any], *tables: str) -> None:
    with pg_client(pg) as conn:
        for table in tables:
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')


def mq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def mariadb_rows(db: dict[str, Any], table: str) -> list[dict[str, Any]]:
    with mariadb_client(db) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {mq(table)} ORDER BY 1")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def mariadb_columns(db: dict[str, Any], table: str) -> dict[str, str]:
    """column -> COLUMN_TYPE (``decimal(38,0)``, ``datetime(6)``)."""
    with mariadb_client(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
                    "ORDER BY ORDINAL_POSITION", (table,))
        return dict(cur.fetchall())


def mariadb_tables(db: dict[str, Any], like: str) -> list[str]:
    with mariadb_client(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE %s", (like,))
        return [r[0] for r in cur.fetchall()]


def mariadb_drop(db: dict[str, Any], *tables: str) -> None:
    with mariadb_client(db) as conn, conn.cursor() as cur:
        for table in tables:
            cur.execute(f"DROP TABLE IF EXISTS {mq(table)}")


# -- Spark ----------------------------------------------------------------------------------------

def spark_read(spark: Any, conn: Connection, table: str | TableRef) -> Any:
    """Read a table through the product's own JDBC read path (``plan_read``, then ``load``),
    so a round trip sees what a user's transfer reads; a plain name is a table in the
    connection's default schema."""
    from dvt_connect.connectors.jdbc import JDBCConnector

    connector = JDBCConnector(spark, conn)
    ref = table if isinstance(table, TableRef) else TableRef(table)
    return connector.load(connector.plan_read(ReadRequest(table=ref)))


def spark_schema() -> Any:
    from pyspark.sql import types as t

    text20 = {"__CHAR_VARCHAR_TYPE_STRING": "varchar(20)"}
    return t.StructType([
        t.StructField("id", t.IntegerType(), False),
        t.StructField("flag", t.BooleanType()),
        t.StructField("i16", t.ShortType()),
        t.StructField("i32", t.IntegerType()),
        t.StructField("i64", t.LongType()),
        t.StructField("f32", t.FloatType()),
        t.StructField("f64", t.DoubleType()),
        t.StructField("dec_small", t.DecimalType(10, 2)),
        t.StructField("dec_max", t.DecimalType(38, 0)),
        t.StructField("dec_frac", t.DecimalType(38, 38)),
        t.StructField("txt", t.StringType()),
        t.StructField("vc", t.StringType(), metadata=text20),
        t.StructField("bin", t.BinaryType()),
        t.StructField("d", t.DateType()),
        t.StructField("ts", t.TimestampNTZType()),
        t.StructField("tstz", t.TimestampType()),
    ])


def typed_dataframe(spark: Any, *, narrow_decimals: int | None = None) -> Any:
    """The fixture as a Spark DataFrame (to seed a target with no Python client, e.g. Derby).
    ``narrow_decimals`` caps precision for targets below 38 (Derby: 31), dropping the values
    that do not fit."""
    from pyspark.sql import types as t

    schema = spark_schema()
    rows = [tuple(r.values()) for r in expected_rows()]
    if narrow_decimals is not None:
        fields = []
        for f in schema.fields:
            if isinstance(f.dataType, t.DecimalType) and f.dataType.precision > narrow_decimals:
                scale = min(f.dataType.scale, narrow_decimals)
                f = t.StructField(f.name, t.DecimalType(narrow_decimals, scale), f.nullable)
            fields.append(f)
        schema = t.StructType(fields)
        rows = [tuple(narrow_row(dict(zip(COLUMNS, r, strict=True)), narrow_decimals).values())
                for r in rows]
    return spark.createDataFrame(rows, schema)


def narrow_row(row: dict[str, Any], precision: int) -> dict[str, Any]:
    """The fixture row for a target whose decimals stop at ``precision`` digits: each too-wide
    value becomes the same digits cut to fit (still a value at the maximum precision)."""
    out = dict(row)
    for column, scale in (("dec_max", 0), ("dec_frac", min(38, precision))):
        value = out[column]
        if value is None:
            continue
        sign, digits, exponent = value.as_tuple()
        if scale == 0:
            text = "".join(map(str, digits))[:precision]
        else:
            fraction = "".join(map(str, digits)).rjust(-int(exponent), "0")
            text = "0." + fraction[:scale]
        out[column] = Decimal(("-" if sign else "") + text)
    return out


def normalize(row: dict[str, Any], *, instants_as_utc: Sequence[str] = (),
              booleans: Sequence[str] = (), float32s: Sequence[str] = ("f32",)) -> dict[str, Any]:
    """A client's row in the fixture's terms: naive UTC wall times of instant columns get their
    zone back, 0/1 booleans become bools, REAL/FLOAT values compare as float32."""
    out = dict(row)
    for column in instants_as_utc:
        if isinstance(out.get(column), datetime) and out[column].tzinfo is None:
            out[column] = out[column].replace(tzinfo=UTC)
    for column in booleans:
        if out.get(column) is not None:
            out[column] = bool(out[column])
    for column in float32s:
        out[column] = float32(out.get(column))
    for column, value in out.items():
        if isinstance(value, (memoryview, bytearray)):
            out[column] = bytes(value)
        if isinstance(value, datetime) and value.tzinfo is not None:
            out[column] = value.astimezone(UTC)
        if isinstance(value, timedelta):  # pragma: no cover - no interval columns
            out[column] = value
    return out
