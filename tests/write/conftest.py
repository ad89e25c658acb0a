"""Fixtures for the write side: fresh table names that are dropped after each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .fixtures import mariadb_drop, mariadb_tables, pg_drop, pg_tables, unique_name


@pytest.fixture
def pg_tables_made(pg: dict[str, Any]) -> Iterator[list[str]]:
    """Table names a test creates in PostgreSQL (public); dropped afterwards."""
    made: list[str] = []
    yield made
    pg_drop(pg, *made)


@pytest.fixture
def maria_tables_made(mariadb: dict[str, Any]) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    mariadb_drop(mariadb, *made)


@pytest.fixture
def pg_name(pg_tables_made: list[str]) -> Any:
    def make(prefix: str = "t") -> str:
        name = unique_name(f"dvtw_{prefix}")
        pg_tables_made.append(name)
        return name
    return make


@pytest.fixture
def maria_name(maria_tables_made: list[str]) -> Any:
    def make(prefix: str = "t") -> str:
        name = unique_name(f"dvtw_{prefix}")
        maria_tables_made.append(name)
        return name
    return make


@pytest.fixture
def no_stage_left(pg: dict[str, Any], mariadb: dict[str, Any]) -> Iterator[None]:
    """After the test, no new staging or renamed-away table of these tests (``dvtw_`` names)
    is left in either database (compared with before, so a run killed earlier cannot fail it)."""
    pattern = "dvtw\\_%\\_\\_dvt\\_%"
    before_pg, before_maria = set(pg_tables(pg, pattern)), set(mariadb_tables(mariadb, pattern))
    yield
    assert sorted(set(pg_tables(pg, pattern)) - before_pg) == []
    assert sorted(set(mariadb_tables(mariadb, pattern)) - before_maria) == []
