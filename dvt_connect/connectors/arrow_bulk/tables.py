"""The bulk paths' side of the staged write: the routine itself
(:mod:`dvt_connect.connectors.staging`) is shared with the JDBC writer; a bulk connector supplies
a DB-API session and how to fill the stage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from dvt_connect.connectors.staging import RETRY_SAFE_NOTE, SqlSession, Stage, staged_write

if TYPE_CHECKING:
    from dvt_connect.databases.spec import Database

__all__ = ["RETRY_SAFE_NOTE", "DbApiSession", "SqlSession", "Stage", "rows_of", "staged_write"]


def rows_of(session: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a small query on a DB-API connection."""
    with session.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


class DbApiSession(ABC):
    """What the bulk paths' staged-write sessions share on a DB-API connection: small queries and
    the catalog's unique keys. Each database's session adds execute, transaction, columns and
    current_schema."""

    def __init__(self, conn: Any, facts: Database) -> None:
        self.conn = conn
        self.facts = facts

    @abstractmethod
    def current_schema(self) -> str | None:
        """The session's default schema (each database asks in its own way)."""

    def query(self, sql: str, limit: int | None = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchmany(limit) if limit else cur.fetchall())

    def unique_keys(self, schema: str | None, name: str) -> list[tuple[str, ...]]:
        template = self.facts.catalog.unique_keys
        assert template is not None
        rows = self.query(template.format(
            schema=self.facts.quote_literal(schema or self.current_schema() or ""),
            table=self.facts.quote_literal(name)))
        found: dict[str, list[str]] = {}
        for index, column in rows:
            found.setdefault(str(index), []).append(str(column))
        return [tuple(cols) for cols in found.values()]

    def close(self) -> None:
        self.conn.close()
