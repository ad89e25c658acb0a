"""PostgreSQL through binary COPY: which SQL each column is selected as, so that the Arrow the
ADBC driver produces is, after :func:`~dvt_connect.connectors.arrow_bulk.columns.conform`, the
value Spark's JDBC source reads.

The JDBC schema names each column's PostgreSQL type (field metadata ``jdbcClientType``). Types
read as strings by JDBC are selected as ``::text`` unless they are text already (uuid, json,
interval, money, inet ... print exactly as JDBC's ``getString`` returns them). Numerics are
rounded to the Spark scale half away from zero (Java's HALF_UP, as JDBC does) and travel as a
scaled ``bigint`` up to 18 digits, as text beyond (ADBC renders every numeric as text, which
costs more than PostgreSQL's integer multiply).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dvt_connect.connectors.arrow_bulk.columns import BulkRead, ColumnRead
from dvt_connect.connectors.arrow_bulk.connector import BulkConnector
from dvt_connect.connectors.arrow_bulk.tables import DbApiSession, rows_of
from dvt_connect.connectors.base import ConnectorType

if TYPE_CHECKING:
    from pyspark.sql.types import StructField

TYPE_KEY = "jdbcClientType"
TIME_KEY = "logical_time_type"

_NUMBERS = {
    "ShortType": ("int2",),
    "IntegerType": ("int2", "int4"),
    "LongType": ("int2", "int4", "int8"),
    "FloatType": ("float4",),
    "DoubleType": ("float4", "float8"),
    "BooleanType": ("bool",),
    "BinaryType": ("bytea",),
    "DateType": ("date",),
}
_TEXT = ("text", "varchar", "bpchar")
_ARRAYS = {"_int2", "_int4", "_int8", "_float4", "_float8", "_bool", "_text", "_varchar",
           "_bpchar", "_date", "_timestamptz", "_bytea"}


class PostgresNativeConnector(BulkConnector):
    connector_type = ConnectorType.POSTGRES_NATIVE
    load_method = "binary COPY FROM STDIN"

    def params(self) -> dict[str, Any]:
        c = self.connection
        params: dict[str, Any] = {"host": c.host or "localhost",
                                  "port": c.port or self.facts.default_port,
                                  "dbname": c.database, "user": c.user}
        if c.sslmode:
            params["sslmode"] = c.sslmode
        return params

    def column_read(self, field: StructField) -> ColumnRead | str:
        return pg_column_read(field, self.facts.quote_identifier)

    def copy_selects(self, read: BulkRead) -> tuple[str, ...] | str:
        return pg_copy_selects(read, self.facts.quote_identifier)

    def open_session(self) -> PgSession:
        import psycopg

        from dvt_connect.connectors.postgres_native.driver import conninfo

        conn = psycopg.connect(conninfo(self.params(), self.connection.password),
                               autocommit=True)
        # like the JDBC driver's session (the JVM runs in UTC): literals without an offset,
        # such as a backfill's dates, compare with timestamptz columns as UTC
        conn.execute("SET TIME ZONE 'UTC'")
        return PgSession(conn, self.facts)


def pg_column_read(field: StructField, quote: Any) -> ColumnRead | str:
    from pyspark.sql import types as t

    data_type = field.dataType
    pg = str((field.metadata or {}).get(TYPE_KEY, "")).lower()
    col = quote(field.name)
    kind = type(data_type).__name__
    if isinstance(data_type, t.StringType):
        return ColumnRead(field.name, col if pg in _TEXT else f"{col}::text")
    if pg in _NUMBERS.get(kind, ()):
        return ColumnRead(field.name, col)
    if isinstance(data_type, t.BooleanType) and pg == "bit":
        return ColumnRead(field.name, f"({col} = B'1')")
    if isinstance(data_type, t.BinaryType) and pg in ("bit", "varbit"):
        return ColumnRead(field.name, f"convert_to({col}::text, 'UTF8')")
    if isinstance(data_type, t.DecimalType) and pg in ("numeric", "oid", "int8", "int4",
                                                       "int2", "money"):
        scale = data_type.scale
        # JDBC rounds half up to the Spark scale; a column of that very scale needs no rounding
        declared = (field.metadata or {}).get("scale")
        rounded = (f"{col}::numeric" if pg == "numeric" and declared == scale
                   else f"round({col}::numeric, {scale})")
        if data_type.precision <= 18:
            return ColumnRead(field.name, f"({rounded} * 1{'0' * scale})::int8", "scaled",
                              value=rounded)
        return ColumnRead(field.name, f"{rounded}::text", "decimal")
    if isinstance(data_type, (t.TimestampType, t.TimestampNTZType)):
        instant = isinstance(data_type, t.TimestampType)
        if pg == "timestamptz" and instant:
            return ColumnRead(field.name, col)
        if pg == "timestamp":
            return ColumnRead(field.name, col, "wall_time" if instant else "same")
        if pg == "time" and (field.metadata or {}).get(TIME_KEY):
            return ColumnRead(field.name, f"(DATE '1970-01-01' + {col})",
                              "wall_time" if instant else "same")
    if isinstance(data_type, t.ArrayType) and pg in _ARRAYS:
        return ColumnRead(field.name, col)
    return f"`{field.name}` ({pg or data_type.simpleString()} as {data_type.simpleString()})"


# The PostgreSQL type the Arrow route's ingest (ADBC) sends each Spark type's Arrow column as.
_WIRE = {"ShortType": "int2", "IntegerType": "int4", "LongType": "int8", "FloatType": "float4",
         "DoubleType": "float8", "BooleanType": "bool", "StringType": "text",
         "BinaryType": "bytea", "DateType": "date", "TimestampType": "timestamptz",
         "TimestampNTZType": "timestamp"}
_UTC = ("UTC", "Etc/UTC", "GMT", "Z")


def pg_copy_selects(read: BulkRead, quote: Any) -> tuple[str, ...] | str:
    """For each column of ``read``, the SQL over the partition query's row ``q`` whose binary
    COPY value is the value the Arrow route sends (the column read, then
    :func:`~dvt_connect.connectors.arrow_bulk.columns.conform`, then ADBC's ingest); or why a
    column cannot be piped so. Casts only where PostgreSQL's cast is the Arrow conversion
    exactly: integer and float widening, ``numeric(p,s)`` of the rounded value, and wall times
    as instants in UTC only (elsewhere the two disagree on a daylight-saving gap or fold)."""
    from pyspark.sql import types as t

    selects: list[str] = []
    for read_col, f in zip(read.columns, read.spark_schema().fields, strict=True):
        col = f"q.{quote(read_col.name)}"
        data_type = f.dataType
        kind = read_col.convert
        if isinstance(data_type, t.DecimalType) and (
                kind == "decimal" or kind == "scaled" and read_col.value and read.value_queries):
            # the rounded numeric itself (``value_queries``), or its text
            selects.append(f"({col})::numeric({data_type.precision},{data_type.scale})")
        elif kind == "wall_time" and isinstance(data_type, t.TimestampType):
            if read.time_zone not in _UTC:
                return (f"`{f.name}` is a wall time read as an instant in {read.time_zone}, "
                        "which only the Arrow route converts exactly")
            selects.append(f"({col})::timestamp AT TIME ZONE 'UTC'")
        elif kind == "same" and type(data_type).__name__ in _WIRE:
            pg = str((f.metadata or {}).get(TYPE_KEY, "")).lower()
            # bpchar's binary send is text's (blank padding kept); a cast to text would trim it
            selects.append(col if pg == "bpchar" and isinstance(data_type, t.StringType)
                           else f"({col})::{_WIRE[type(data_type).__name__]}")
        else:
            return f"`{f.name}` ({data_type.simpleString()}, read as {kind})"
    return tuple(selects)


class PgSession(DbApiSession):
    """The staged write's session on psycopg (autocommit; one transaction per swap)."""

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def transaction(self, statements: list[str]) -> None:
        with self.conn.transaction():
            for sql in statements:
                self.conn.execute(sql)

    def current_schema(self) -> str | None:
        rows = rows_of(self.conn, "SELECT current_schema()")
        return rows[0][0] if rows else None

    def table_kind(self, schema: str | None, name: str) -> str | None:
        rows = rows_of(self.conn, "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON "
                                  "n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                       (schema or "public", name))
        if not rows:
            return None
        return "view" if rows[0][0] in ("v", "m") else "table"

    def columns(self, schema: str | None, name: str) -> list[str]:
        rows = rows_of(self.conn, "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON "
                                  "c.oid = a.attrelid JOIN pg_namespace n ON n.oid = "
                                  "c.relnamespace WHERE n.nspname = %s AND c.relname = %s AND "
                                  "a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                       (schema or "public", name))
        return [r[0] for r in rows]
