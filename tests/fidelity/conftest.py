"""Type fidelity: tables made with the database's own client, moved by the product's own
transfer, and read back with the target's own client (psycopg, PyMySQL, pyarrow)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from write.fixtures import mariadb_drop, pg_drop, unique_name  # noqa: E402


@pytest.fixture
def names(pg: dict[str, Any], mariadb: dict[str, Any]) -> Iterator[Any]:
    """Fresh table names, dropped (with any staging table) in both servers afterwards."""
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = unique_name(f"dvtf_{prefix}")
        made.append(name)
        return name

    yield make
    pg_drop(pg, *made)
    mariadb_drop(mariadb, *made)
