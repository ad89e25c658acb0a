"""The source catalog the planner expands wildcards against, read over one JDBC connection.

Only catalog metadata is read: the driver's table listing and the database's own row estimate
(``pg_class.reltuples``, ``information_schema.TABLES.TABLE_ROWS``); never a row of data.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.jdbc.metadata import table_names
from dvt_connect.connectors.jdbc.session import JdbcSession
from dvt_connect.errors import DvtError, SourceError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession



class JdbcCatalog:
    """A :class:`~dvt_connect.replication.plan.SourceCatalog` over one JDBC connection; use as
    a context manager so the connection is closed after planning."""

    def __init__(self, spark: SparkSession, connection: Connection) -> None:
        self.connection = connection
        self._session = JdbcSession(spark, connection)
        self._open = False
        self._tables: dict[str | None, list[str]] = {}
        self._schema_is_catalog = False
        self._default: str | None = None

    def __enter__(self) -> JdbcCatalog:
        try:
            self._session.open()
        except DvtError:
            raise
        except Exception as exc:
            raise SourceError(
                f"cannot read the catalog of source `{self.connection.name}` "
                f"({self.connection.location()}): {_first_line(exc)}",
                hint="Check the output with `dvt debug`.") from exc
        self._open = True
        meta = self._session.conn.getMetaData()
        # MySQL and MariaDB call a database a catalog, and have no schemas inside it
        self._schema_is_catalog = not bool(meta.supportsSchemasInTableDefinitions())
        self._default = (self.connection.schema if self.connection.schema
                         and not self._schema_is_catalog else None) or \
            self._session.current_schema(schema_is_catalog=self._schema_is_catalog) or \
            self.connection.facts.catalog.default_schema
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()
        self._open = False

    @property
    def default_schema(self) -> str | None:
        return self._default

    def tables(self, schema: str | None) -> list[str]:
        if schema not in self._tables:
            names = table_names(self._session, schema,
                                schema_is_catalog=self._schema_is_catalog, limit=1_000_000)
            self._tables[schema] = sorted(names)
        return self._tables[schema]

    def estimate(self, schema: str | None, table: str) -> int | None:
        facts = self.connection.facts
        template = facts.catalog.row_estimate
        if not template:
            return None
        sql = template.format(schema=facts.quote_literal(schema or ""),
                              table=facts.quote_literal(table))
        with contextlib.suppress(Exception):  # an estimate only orders the streams
            rows: list[Any] = self._session.query(sql)
            if rows and rows[0][0] is not None:
                return int(float(rows[0][0]))
        return None


def _first_line(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:300]
