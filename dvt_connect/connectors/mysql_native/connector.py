"""MySQL and MariaDB: ConnectorX streaming reads, ``LOAD DATA LOCAL INFILE`` writes.

Which SQL each column is selected as, so that ConnectorX's Arrow is, after
:func:`~dvt_connect.connectors.arrow_bulk.columns.conform`, the value Spark's JDBC source reads.
ConnectorX hands every DECIMAL over as ``decimal128(38, 10)`` (and panics on wider values), so a
decimal that needs more than 10 places or 28 integer digits is selected as text and cast exactly.
No session time zone is set for reads: like the JDBC driver, the server's own zone decides how
``TIMESTAMP`` columns print, and wall times are read in the JVM's zone, as JDBC does.

Writes need ``local_infile`` ON on the server (PyMySQL asks for it on the client side); when it
is off, the write goes over JDBC and the warning says how to turn it on.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from dvt_connect.connectors.arrow_bulk.columns import ColumnRead
from dvt_connect.connectors.arrow_bulk.connector import BulkConnector
from dvt_connect.connectors.arrow_bulk.tables import DbApiSession, rows_of
from dvt_connect.connectors.base import ConnectorType

if TYPE_CHECKING:
    from pyspark.sql.types import StructField

TYPE_KEY = "jdbcClientType"
_TEXT = ("VARCHAR", "CHAR", "TEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "JSON")
_INTEGERS = ("TINYINT", "SMALLINT", "MEDIUMINT", "INTEGER", "INT", "BIGINT", "YEAR")
_BINARY = ("BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB")
_TIMES = ("DATETIME", "TIMESTAMP")
# ConnectorX's DECIMAL is decimal128(38, 10): exact only within these bounds.
CX_SCALE, CX_INTEGER_DIGITS = 10, 28

LOCAL_INFILE_HELP = (
    "the server has `local_infile` OFF, and LOAD DATA LOCAL INFILE needs it ON: an "
    "administrator can run `SET GLOBAL local_infile = ON` (lasts until the server restarts) or "
    "set `local_infile = 1` under [mysqld] in the server's configuration"
)


class MySQLNativeConnector(BulkConnector):
    connector_type = ConnectorType.MYSQL_NATIVE
    load_method = "LOAD DATA LOCAL INFILE"

    def params(self) -> dict[str, Any]:
        c = self.connection
        return {"host": c.host or "localhost", "port": c.port or self.facts.default_port,
                "user": c.user, "database": c.database}

    def column_read(self, field: StructField) -> ColumnRead | str:
        return mysql_column_read(field, self.facts.quote_identifier)

    def open_session(self) -> MySQLSession:
        from dvt_connect.connectors.mysql_native.driver import connect

        return MySQLSession(connect(self.params(), self.connection.password, autocommit=True),
                            self.facts)

    # the server's `local_infile`, asked once per connector (the route's choice and the write's
    # plan both need it; each ask is a connection)
    _local_infile: bool | None = None

    def write_problems(self) -> list[str]:
        if self._local_infile is None:
            session = self.open_session()
            try:
                rows = rows_of(session.conn, "SHOW GLOBAL VARIABLES LIKE 'local_infile'")
            finally:
                session.close()
            self._local_infile = bool(rows) and str(rows[0][1]).upper() in ("ON", "1")
        return [] if self._local_infile else [LOCAL_INFILE_HELP]


def mysql_column_read(field: StructField, quote: Any) -> ColumnRead | str:
    from pyspark.sql import types as t

    data_type = field.dataType
    kind = str((field.metadata or {}).get(TYPE_KEY, "")).upper()
    base = kind.split()[0] if kind else ""
    col = quote(field.name)
    as_text = f"CAST({col} AS CHAR)"
    if isinstance(data_type, t.StringType):
        return ColumnRead(field.name, col if base in _TEXT else as_text)
    if isinstance(data_type, t.BooleanType) and base in ("TINYINT", "BIT", "BOOLEAN"):
        return ColumnRead(field.name, col, "flag")
    if isinstance(data_type, (t.ByteType, t.ShortType, t.IntegerType, t.LongType)) \
            and base in _INTEGERS and ("UNSIGNED" not in kind or base != "BIGINT"):
        # an unsigned type below BIGINT is read into the next wider Spark integer (as over
        # JDBC); Arrow's safe cast refuses any value that would not fit
        return ColumnRead(field.name, col)
    if isinstance(data_type, (t.FloatType, t.DoubleType)) and base in ("FLOAT", "DOUBLE",
                                                                       "REAL"):
        return ColumnRead(field.name, col)
    if isinstance(data_type, t.DecimalType) and (base in ("DECIMAL", "NUMERIC")
                                                 or base in _INTEGERS):
        fits = (base in ("DECIMAL", "NUMERIC") and data_type.scale <= CX_SCALE
                and data_type.precision - data_type.scale <= CX_INTEGER_DIGITS)
        return ColumnRead(field.name, col if fits else as_text, "decimal")
    if isinstance(data_type, t.BinaryType) and base in _BINARY:
        return ColumnRead(field.name, col)
    if isinstance(data_type, t.DateType) and base == "DATE":
        return ColumnRead(field.name, col)
    if isinstance(data_type, t.TimestampType) and base in _TIMES:
        return ColumnRead(field.name, col, "wall_time")
    if isinstance(data_type, t.TimestampNTZType) and base in _TIMES:
        return ColumnRead(field.name, col)
    return f"`{field.name}` ({kind or '?'} as {data_type.simpleString()})"


class MySQLSession(DbApiSession):
    """The staged write's session on PyMySQL (autocommit; explicit transactions)."""

    def execute(self, sql: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql)

    def transaction(self, statements: list[str]) -> None:
        self.conn.begin()
        try:
            for sql in statements:
                self.execute(sql)
            self.conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # the server rolls back a lost connection
                self.conn.rollback()
            raise

    def current_schema(self) -> str | None:
        rows = rows_of(self.conn, "SELECT DATABASE()")
        return rows[0][0] if rows else None

    def table_kind(self, schema: str | None, name: str) -> str | None:
        rows = rows_of(self.conn, "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE "
                                  "TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s",
                       (schema, name))
        if not rows:
            return None
        return "view" if "VIEW" in str(rows[0][0]).upper() else "table"

    def columns(self, schema: str | None, name: str) -> list[str]:
        rows = rows_of(self.conn, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                                  "TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s "
                                  "ORDER BY ORDINAL_POSITION", (schema, name))
        return [r[0] for r in rows]
