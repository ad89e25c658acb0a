"""The bulk paths' side of the staged write: the routine itself
(:mod:`dvt_connect.connectors.staging`) is shared with the JDBC writer; a bulk connector supplies
a DB-API session and how to fill the stage.
"""

from __future__ import annotations

from typing import Any

from dvt_connect.connectors.staging import RETRY_SAFE_NOTE, SqlSession, Stage, staged_write

__all__ = ["RETRY_SAFE_NOTE", "SqlSession", "Stage", "rows_of", "staged_write"]


def rows_of(session: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a small query on a DB-API connection."""
    with session.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())
