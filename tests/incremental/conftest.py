"""Real PostgreSQL and MariaDB for the incremental, merge and truncate modes: a small SQL client
per database (the database's own driver, never one of our paths) and fresh table names that are
dropped afterwards."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from write.fixtures import (  # noqa: E402
    mariadb_client,
    mariadb_connection,
    pg_client,
    pg_connection,
)


@dataclass
class Db:
    """One database under test: its own client, our connection to it, names to drop."""

    kind: str  # "postgres" or "mariadb"
    params: dict[str, Any]
    made: list[str] = field(default_factory=list)

    @property
    def connection(self) -> Any:
        return (pg_connection(self.params) if self.kind == "postgres"
                else mariadb_connection(self.params))

    @property
    def ts(self) -> str:
        """The instant column type of the source tables."""
        return "timestamptz(6)" if self.kind == "postgres" else "datetime(6)"

    @property
    def text(self) -> str:
        # not MariaDB VARCHAR(n): moved within MariaDB, it keeps its declared type, which the
        # bulk load cannot (it writes over JDBC then, and these tests are about the bulk path)
        return "text"

    @property
    def bulk(self) -> str:
        return "postgres_native" if self.kind == "postgres" else "mysql_native"

    def q(self, name: str) -> str:
        return f'"{name}"' if self.kind == "postgres" else f"`{name}`"

    def name(self, prefix: str) -> str:
        made = f"dvti_{prefix}_{uuid.uuid4().hex[:8]}"
        self.made.append(made)
        return made

    def run(self, *statements: str) -> None:
        if self.kind == "postgres":
            with pg_client(self.params) as conn:
                for sql in statements:
                    conn.execute(sql)
        else:
            with mariadb_client(self.params) as conn, conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "postgres":
            with pg_client(self.params) as conn, conn.cursor() as cur:
                cur.execute(sql)
                return [tuple(r) for r in cur.fetchall()]
        with mariadb_client(self.params) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]

    def table(self, name: str) -> list[tuple[Any, ...]]:
        return self.rows(f"SELECT * FROM {self.q(name)} ORDER BY 1, 2")

    def drop_all(self) -> None:
        views = [n for n in self.made if "_v_" in n]
        tables = [n for n in self.made if "_v_" not in n]
        if self.kind == "postgres":
            self.run(*[f"DROP VIEW IF EXISTS {self.q(n)} CASCADE" for n in views],
                     *[f"DROP TABLE IF EXISTS {self.q(n)} CASCADE" for n in tables])
        else:
            self.run(*[f"DROP VIEW IF EXISTS {self.q(n)}" for n in views],
                     *[f"DROP TABLE IF EXISTS {self.q(n)}" for n in tables])

    def stages(self) -> list[str]:
        if self.kind == "postgres":
            sql = ("SELECT table_name FROM information_schema.tables WHERE table_name LIKE "
                   "'dvti\\_%\\_\\_dvt\\_%'")
        else:
            sql = ("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                   "DATABASE() AND TABLE_NAME LIKE 'dvti\\_%\\_\\_dvt\\_%'")
        return [r[0] for r in self.rows(sql)]


@pytest.fixture(params=["postgres", "mariadb"])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    params = request.getfixturevalue("pg" if request.param == "postgres" else "mariadb")
    database = Db(request.param, params)
    before = set(database.stages())
    yield database
    database.drop_all()
    assert sorted(set(database.stages()) - before) == []  # no staging table left behind
