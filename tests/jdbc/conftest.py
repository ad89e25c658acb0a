"""Fixtures for the JDBC read side: PostgreSQL tables in schema `dvt_read_tests`, MariaDB tables
named `rd_*` in the test database, each made fresh by a test and dropped after it.

Setup and inspection go through the databases' own Python clients (psycopg, PyMySQL), never
through the code under test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.config.profiles import Connection, parse_connection

PG_SCHEMA = "dvt_read_tests"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def pg_connection(pg: dict[str, Any], **extra: Any) -> Connection:
    """The profiles.yml output a user would write for the test PostgreSQL."""
    data = {"type": "postgres", **pg, **extra}
    return parse_connection("pg", data, path=Path("profiles.yml"), key="test.outputs.pg")


SLOW_QUANTILES = "dvt-slow-quantiles"  # marks the slowed query, to look for it on the server


def slow_quantiles(monkeypatch: pytest.MonkeyPatch,
                   template: str) -> Callable[[Any, list[int]], None]:
    """Make the server take long over the planner's own quantile query: ``template`` wraps it
    (``{sql}``) in SQL that sleeps. Returns the check of a plan made from now on with a
    one-second bound and 4,000 rows: planned within seconds, the query cancelled, and the
    range cut evenly into 4 partitions whose row counts (``sizes``, counted by the server)
    hold every row."""
    from dvt_connect.connectors.jdbc import connector as module

    real = module.quantile_sql

    def slow(*args: Any, **kwargs: Any) -> str | None:
        return template.format(sql=real(*args, **kwargs)) + f" /* {SLOW_QUANTILES} */"

    monkeypatch.setattr(module, "quantile_sql", slow)

    started = time.monotonic()

    def check(plan: Any, sizes: list[int]) -> None:
        assert time.monotonic() - started < 15
        assert ("even stride between the bounds: the quantile query ran past 1 s and was "
                "cancelled" in plan.notes), plan.notes
        assert len(sizes) == 4 and sum(sizes) == 4000, sizes

    return check


def frames_built(monkeypatch: pytest.MonkeyPatch, conn: Any) -> list[int]:
    """A list that records, for each DataFrame ``conn`` builds over JDBC, how many partitions'
    relations it has."""
    built: list[int] = []
    frame = conn._frame

    def counted(plan: Any, predicates: list[str | None]) -> Any:
        built.append(len(predicates))
        return frame(plan, predicates)

    monkeypatch.setattr(conn, "_frame", counted)
    return built


def maria_connection(mariadb: dict[str, Any], **extra: Any) -> Connection:
    data = {"type": "mariadb", "password": "", **mariadb, **extra}
    return parse_connection("maria", data, path=Path("profiles.yml"), key="test.outputs.maria")


@pytest.fixture
def pg_sql(pg: dict[str, Any]) -> Iterator[Any]:
    """An autocommit psycopg connection; the test schema exists."""
    import psycopg

    conn = psycopg.connect(host=pg["host"], port=pg["port"], user=pg["user"],
                           password=pg["password"], dbname=pg["database"], autocommit=True)
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
    yield conn
    conn.close()


@pytest.fixture
def pg_table(pg_sql: Any) -> Iterator[Callable[[str], str]]:
    """Make a unique table name in the test schema (`schema.name`); dropped afterwards."""
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = f"{PG_SCHEMA}.{unique(prefix)}"
        made.append(name)
        return name

    yield make
    for name in made:
        pg_sql.execute(f"DROP VIEW IF EXISTS {name}_v")
        pg_sql.execute(f"DROP TABLE IF EXISTS {name} CASCADE")


@pytest.fixture
def maria_sql(mariadb: dict[str, Any]) -> Iterator[Any]:
    import pymysql

    conn = pymysql.connect(host=mariadb["host"], port=int(mariadb["port"]), user=mariadb["user"],
                           password=mariadb["password"], database=mariadb["database"],
                           autocommit=True)
    yield conn
    conn.close()


@pytest.fixture
def maria_table(maria_sql: Any) -> Iterator[Callable[[str], str]]:
    """Make a unique `rd_*` table name in the test database; dropped afterwards."""
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = unique(f"rd_{prefix}")
        made.append(name)
        return name

    yield make
    with maria_sql.cursor() as cur:
        for name in made:
            cur.execute(f"DROP TABLE IF EXISTS `{name}`")


def maria_exec(conn: Any, *statements: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    with conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
            rows = list(cur.fetchall())
    return rows
