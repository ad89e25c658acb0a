"""The URL and properties Spark's JDBC source gets, and SQL on a target through Spark's JVM.

:func:`spark_jdbc_url_and_props` is the one place both the read and the write side build what
they hand to ``spark.read/write.format("jdbc")``. It carries the MariaDB fix: Spark has no
MariaDB dialect, so for a ``jdbc:mariadb:`` URL it falls back to its generic dialect and quotes
names with ``"`` (MariaDB rejects them) and maps types generically. We hand Spark the same
address as ``jdbc:mysql:...?permitMysqlScheme`` with the MariaDB driver class: Spark then picks
its MySQL dialect (backtick quoting, MySQL types), and MariaDB Connector/J accepts the
``jdbc:mysql:`` scheme (2.x always, 3.x when the URL contains ``permitMysqlScheme``).

:class:`JdbcSession` opens a ``java.sql.Connection`` with the driver Spark uses (on Spark
Connect, in the client JVM of :mod:`dvt_connect.client_jvm`, with the same jars). With jars from
``spark.jars`` the driver lives in Spark's class loader, which ``java.sql.DriverManager`` does not
search, so the driver class is loaded through the thread's context class loader and asked to
connect directly.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvt_connect.config.profiles import Connection
from dvt_connect.errors import DvtError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MARIADB_DRIVER = "org.mariadb.jdbc.Driver"
MARIADB_SCHEME_FLAG = "permitMysqlScheme"


def spark_jdbc_url_and_props(connection: Connection) -> tuple[str, dict[str, str]]:
    """The JDBC URL and properties (``driver`` included; credentials too: never print them)
    for Spark's JDBC source and for :class:`JdbcSession`."""
    url = connection.jdbc_url()
    props = connection.jdbc_properties()
    return mariadb_as_mysql(url, props)


def mariadb_as_mysql(url: str, props: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Rewrite a MariaDB address so Spark applies its MySQL dialect (see the module doc)."""
    props = dict(props)
    driver = props.get("driver")
    if url.startswith("jdbc:mariadb:"):
        url = "jdbc:mysql:" + url[len("jdbc:mariadb:"):]
        driver = driver or MARIADB_DRIVER
        props["driver"] = driver
    if driver == MARIADB_DRIVER and url.startswith("jdbc:mysql:") \
            and MARIADB_SCHEME_FLAG not in url:
        url += ("&" if "?" in url else "?") + MARIADB_SCHEME_FLAG
    return url, props


def driver_class_loader(jvm: Any) -> Any:
    """The class loader JDBC driver classes come from: the driver thread's context loader (it
    sees the jars added with ``spark.jars``), else the JVM's system loader."""
    loader = jvm.Thread.currentThread().getContextClassLoader()
    return loader if loader is not None else jvm.ClassLoader.getSystemClassLoader()


@dataclass(frozen=True)
class TableInfo:
    schema: str | None
    name: str
    table_type: str

    @property
    def is_view(self) -> bool:
        return "VIEW" in self.table_type.upper()


class JdbcSession:
    """One JDBC connection to the target, opened in Spark's JVM; use as a context manager."""

    def __init__(self, spark: SparkSession, connection: Connection) -> None:
        self.spark = spark
        self.connection = connection
        from dvt_connect.spark import jvm_gateway

        self._jvm, self._gateway = jvm_gateway(spark)
        self._conn: Any = None

    def __enter__(self) -> JdbcSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        url, props = spark_jdbc_url_and_props(self.connection)
        driver_class = props.pop("driver", None)
        jprops = self._jvm.java.util.Properties()
        for key, value in props.items():
            jprops.setProperty(key, value)
        if driver_class:
            driver = self._load_driver(driver_class)
            conn = driver.connect(url, jprops)
            if conn is None:
                raise DvtError(
                    f"the JDBC driver `{driver_class}` does not accept the URL of output "
                    f"`{self.connection.name}` ({self.connection.location()}).",
                    hint="Check `type`, `url` and `driver` in profiles.yml.",
                )
        else:
            conn = self._jvm.java.sql.DriverManager.getConnection(url, jprops)
        self._conn = conn

    def _load_driver(self, class_name: str) -> Any:
        from py4j.protocol import Py4JJavaError

        jvm = self._jvm
        try:
            cls = driver_class_loader(jvm).loadClass(class_name)
        except Py4JJavaError:
            raise DvtError(
                f"the JDBC driver class `{class_name}` for output `{self.connection.name}` is "
                "not on Spark's classpath.",
                hint="Run `dvt sync` to download the driver jars.",
            ) from None
        no_types = self._gateway.new_array(jvm.java.lang.Class, 0)
        no_args = self._gateway.new_array(jvm.java.lang.Object, 0)
        return cls.getDeclaredConstructor(no_types).newInstance(no_args)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    @property
    def conn(self) -> Any:
        if self._conn is None:
            raise RuntimeError("JdbcSession is not open")
        return self._conn

    def execute(self, sql: str) -> None:
        stmt = self.conn.createStatement()
        try:
            stmt.execute(sql)
        finally:
            stmt.close()

    def query(self, sql: str, timeout: int | None = None) -> list[tuple[str | None, ...]]:
        """Rows of a small query, every value as text (or None); the driver cancels it after
        ``timeout`` seconds (JDBC's query timeout) and raises."""
        stmt = self.conn.createStatement()
        try:
            if timeout:
                stmt.setQueryTimeout(timeout)
            rs = stmt.executeQuery(sql)
            width = rs.getMetaData().getColumnCount()
            rows = []
            while rs.next():
                rows.append(tuple(rs.getString(i) for i in range(1, width + 1)))
            return rows
        finally:
            stmt.close()

    def typed_query(self, sql: str, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Rows of a small query as Python values, read exactly from the driver's text
        (integers, decimals, dates, timestamps with every fraction digit; others as text)."""
        stmt = self.conn.createStatement()
        try:
            if limit:
                stmt.setMaxRows(limit)
            rs = stmt.executeQuery(sql)
            meta = rs.getMetaData()
            types = [meta.getColumnType(i) for i in range(1, meta.getColumnCount() + 1)]
            rows = []
            while rs.next():
                rows.append(tuple(_value(jdbc_type, rs.getString(i))
                                  for i, jdbc_type in enumerate(types, start=1)))
            return rows
        finally:
            stmt.close()

    def unique_keys(self, schema: str | None, name: str, *,
                    schema_is_catalog: bool = False) -> list[tuple[str, ...]]:
        """The columns of each unique index (the primary key's among them), from the driver."""
        meta = self.conn.getMetaData()
        if schema_is_catalog:
            rs = meta.getIndexInfo(schema, None, name, True, False)
        else:
            rs = meta.getIndexInfo(None, schema, name, True, False)
        found: dict[str, list[tuple[int, str]]] = {}
        try:
            while rs.next():
                column = rs.getString(9)
                if column is None or rs.getBoolean(4):  # statistics rows; non-unique
                    continue
                if rs.getString(13):  # a partial index does not make a key unique
                    continue
                found.setdefault(rs.getString(6) or "", []).append((rs.getShort(8), column))
        finally:
            rs.close()
        return [tuple(c for _, c in sorted(cols)) for _, cols in sorted(found.items())]

    def transaction(self, statements: list[str]) -> None:
        """Run ``statements`` in one transaction: all committed, or all rolled back."""
        conn = self.conn
        conn.setAutoCommit(False)
        try:
            for sql in statements:
                self.execute(sql)
            conn.commit()
        except BaseException:
            # the connection may be gone; the server rolls the transaction back then
            with contextlib.suppress(Exception):
                conn.rollback()
            raise
        finally:
            with contextlib.suppress(Exception):
                conn.setAutoCommit(True)

    def columns(self, table_sql: str) -> list[str]:
        """Column names of a table (quoted, qualified name), in order."""
        stmt = self.conn.createStatement()
        try:
            meta = stmt.executeQuery(f"SELECT * FROM {table_sql} WHERE 1=0").getMetaData()
            return [meta.getColumnName(i) for i in range(1, meta.getColumnCount() + 1)]
        finally:
            stmt.close()

    def current_schema(self, *, schema_is_catalog: bool = False) -> str | None:
        """The schema unqualified names resolve to (the database, for MySQL-family)."""
        conn = self.conn
        if schema_is_catalog:
            return conn.getCatalog()
        try:
            return conn.getSchema()
        except Exception:  # drivers older than JDBC 4.1
            return None

    def find_table(self, schema: str | None, name: str, *,
                   schema_is_catalog: bool = False) -> TableInfo | None:
        """The table or view with exactly this name, from the driver's catalog metadata."""
        meta = self.conn.getMetaData()
        escape = meta.getSearchStringEscape() or ""

        def pattern(text: str | None) -> str | None:
            if text is None:
                return None
            return re.sub(r"([_%])", lambda m: escape + m.group(1), text) if escape else text

        if schema_is_catalog:
            rs = meta.getTables(schema, None, pattern(name), None)
        else:
            rs = meta.getTables(None, pattern(schema), pattern(name), None)
        try:
            while rs.next():
                found_schema = rs.getString(1) if schema_is_catalog else rs.getString(2)
                if rs.getString(3) == name and (schema is None or found_schema == schema):
                    return TableInfo(found_schema, name, rs.getString(4) or "TABLE")
        finally:
            rs.close()
        return None


_INTEGERS = {-6, 5, 4, -5}  # TINYINT, SMALLINT, INTEGER, BIGINT
_DECIMALS = {2, 3}  # NUMERIC, DECIMAL
_TIMESTAMPS = {93, 2014}  # TIMESTAMP, TIMESTAMP_WITH_TIMEZONE


def _value(jdbc_type: int, text: str | None) -> Any:
    from datetime import date
    from decimal import Decimal

    from dvt_connect.partitioning import ColumnKind, parse_value

    if text is None:
        return None
    if jdbc_type in _INTEGERS:
        return int(text)
    if jdbc_type in _DECIMALS:
        return Decimal(text)
    if jdbc_type == 91:  # DATE
        return date.fromisoformat(text[:10])
    if jdbc_type in _TIMESTAMPS:
        return parse_value(ColumnKind.TIMESTAMP, text)
    return text


def jvm_time_zone(spark: SparkSession) -> tuple[str, bool]:
    """The JVM's default time zone and whether it is UTC (no offset, no daylight saving). On
    Spark Connect the server's JVM renders the rows: its zone is the one its driver was started
    with (``-Duser.timezone`` in ``spark.driver.extraJavaOptions``, as `dvt server` sets)."""
    from dvt_connect.spark import is_connect

    if is_connect(spark):
        options = str(spark.conf.get("spark.driver.extraJavaOptions", "") or "")
        found = re.search(r"-Duser\.timezone=(\S+)", options)
        zone = found.group(1) if found else "unknown (the Spark Connect server's default)"
        return zone, zone in ("UTC", "Etc/UTC", "GMT", "Z")
    jvm: Any = spark._jvm
    tz = jvm.java.util.TimeZone.getDefault()
    return tz.getID(), tz.getRawOffset() == 0 and not tz.useDaylightTime()
