"""Who runs a warehouse's SQL: the one seam between the stage-native connector and the warehouse.

A :class:`WarehouseSql` is the staged write's :class:`~dvt_connect.connectors.staging.SqlSession`
plus ``describe`` (a query's column types, without running it). The default is the warehouse's
JDBC driver, synced by ``dvt sync`` and loaded through Spark's JVM; a warehouse with no JDBC
driver on Maven names a Python class in ``StageFacts.executor``. Tests swap in a double for the
warehouse's SQL endpoint with :func:`use_executor`; everything else stays real.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.jdbc.writer import JdbcStagingSession
from dvt_connect.connectors.typeplan import SourceType
from dvt_connect.errors import DvtError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.connectors.staging import Stage

# a query's columns without its rows, on any SQL warehouse
DESCRIBE = "SELECT * FROM ({select}) dvt_q WHERE 1 = 0"


class WarehouseSql(Protocol):
    """A session on the warehouse's SQL endpoint (autocommit on)."""

    def execute(self, sql: str) -> None: ...

    def transaction(self, statements: list[str]) -> None: ...

    def describe(self, select: str) -> list[SourceType]: ...

    def query(self, sql: str, limit: int | None = None) -> list[tuple[Any, ...]]: ...

    def current_schema(self) -> str | None: ...

    def table_kind(self, schema: str | None, name: str) -> str | None: ...

    def columns(self, schema: str | None, name: str) -> list[str]: ...

    def unique_keys(self, schema: str | None, name: str) -> list[tuple[str, ...]]: ...

    def close(self) -> None: ...


@runtime_checkable
class LoadJobSql(WarehouseSql, Protocol):
    """A warehouse that loads files with a job rather than a statement (``StageFacts.load_job``:
    BigQuery's load job)."""

    def load_parquet(self, stage: Stage, files: str) -> None: ...


Factory = Callable[["SparkSession", Connection], WarehouseSql]


class JdbcWarehouseSql(JdbcStagingSession):
    """The warehouse's JDBC driver, over one connection opened through Spark's JVM."""

    def query(self, sql: str, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Rows as text, the way catalog statistics are read (``limit`` caps the rows)."""
        rows = self.db.query(sql)
        return rows if limit is None else rows[:limit]

    def describe(self, select: str) -> list[SourceType]:
        stmt = self.db.conn.createStatement()
        try:
            meta = stmt.executeQuery(DESCRIBE.format(select=select)).getMetaData()
            return [SourceType(str(meta.getColumnLabel(i)), str(meta.getColumnTypeName(i)),
                               int(meta.getPrecision(i)), int(meta.getScale(i)))
                    for i in range(1, meta.getColumnCount() + 1)]
        finally:
            stmt.close()


_overrides: dict[str, Factory] = {}


@contextmanager
def use_executor(database: str, factory: Factory) -> Iterator[None]:
    """Run ``database``'s stage-native SQL through ``factory`` inside the block (tests)."""
    previous = _overrides.get(database)
    _overrides[database] = factory
    try:
        yield
    finally:
        if previous is None:
            _overrides.pop(database, None)
        else:
            _overrides[database] = previous


def open_sql(spark: SparkSession, connection: Connection) -> WarehouseSql:
    """A new session on ``connection``'s warehouse, by its ``StageFacts.executor``."""
    override = _overrides.get(connection.facts.name)
    if override is not None:
        return override(spark, connection)
    stage = connection.facts.stage
    target = stage.executor if stage is not None else "jdbc"
    if target == "jdbc":
        return JdbcWarehouseSql(spark, connection)
    module_name, _, class_name = target.partition(":")
    try:
        cls: Any = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise DvtError(f"the SQL executor `{target}` for {connection.type} cannot be loaded "
                       f"({exc}).") from exc
    return cls(spark, connection)
