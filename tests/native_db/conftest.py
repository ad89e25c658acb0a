"""Native bulk paths for PostgreSQL and MariaDB, checked against the JDBC path on real servers.

The typed fixture (decimals at precision 38, timestamps around daylight-saving changes, unicode,
empty strings and bytes, NULLs) is the write side's, from ``tests/write/fixtures.py``: the same
values go through both paths and must come out equal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from write.fixtures import (  # noqa: E402
    mariadb_drop,
    mariadb_tables,
    pg_drop,
    pg_tables,
    unique_name,
)


@pytest.fixture
def pg_names(pg: dict[str, Any]) -> Iterator[Any]:
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = unique_name(f"dvtn_{prefix}")
        made.append(name)
        return name

    yield make
    pg_drop(pg, *made)


@pytest.fixture
def maria_names(mariadb: dict[str, Any]) -> Iterator[Any]:
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = unique_name(f"dvtn_{prefix}")
        made.append(name)
        return name

    yield make
    mariadb_drop(mariadb, *made)


@pytest.fixture
def nothing_left(pg: dict[str, Any], mariadb: dict[str, Any]) -> Iterator[None]:
    """After the test, no staging or renamed-away table of ours from these tests remains."""
    yield
    assert pg_tables(pg, "dvtn\\_%\\_\\_dvt\\_%") == []
    assert mariadb_tables(mariadb, "dvtn\\_%\\_\\_dvt\\_%") == []
