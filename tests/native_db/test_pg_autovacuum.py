"""An overwrite or truncate of a PostgreSQL table that autovacuum is working on.

PostgreSQL makes an autovacuum give way to a lock request only after the waiter has waited
``deadlock_timeout`` (1 s by default); a table loaded in the last minutes is often being vacuumed.
The swap's and the truncate's transactions shorten that wait to 20 ms where the role may (a
superuser) and change nothing for other roles. The server's log names every lock wait that
outlives ``deadlock_timeout`` and how long it had waited, which is what these tests read: no
timing of our own.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from write.fixtures import pg_client, pg_connection, pg_rows, typed_dataframe

from dvt_connect.connectors.base import TableRef, WriteRequest
from dvt_connect.connectors.postgres_native.connector import PostgresNativeConnector

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

_WAITED = re.compile(r"still waiting for AccessExclusiveLock on relation \d+ of database \d+ "
                     r"after ([\d.]+) ms")


def _vacuum_crawling(server: dict[str, Any], table: str) -> None:
    """Give ``table`` about 56,000 rows and wait until an autovacuum works on it; its cost
    settings make it crawl (a page per 100 ms), so it is still at work when the write comes."""
    with pg_client(server) as conn:
        conn.execute(f"ALTER TABLE {table} SET (autovacuum_vacuum_cost_delay = 100, "
                     "autovacuum_vacuum_cost_limit = 1)")
        conn.execute(f"INSERT INTO {table} SELECT t.* FROM {table} t, "
                     "generate_series(1, 8000)")
        deadline = time.monotonic() + 60
        while not conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                "'autovacuum worker' AND query LIKE %s", (f"%{table}%",)).fetchone()[0]:
            assert time.monotonic() < deadline, f"no autovacuum of {table} within 60 s"
            time.sleep(0.05)


def _waits(log: Path, start: int) -> list[float]:
    """The lock waits the server logged after byte ``start`` of its log, in milliseconds."""
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    assert "canceling autovacuum task" in text, text[-3000:]
    return [float(ms) for ms in _WAITED.findall(text)]


def _write_under_autovacuum(spark: Any, server: dict[str, Any], table: str, mode: str,
                            user: str = "postgres") -> list[float]:
    """Write the typed fixture into a new ``table`` as ``user``, then again in ``mode`` while an
    autovacuum works on it (watched as the superuser: only it sees the workers' queries)."""
    native = PostgresNativeConnector(spark, pg_connection({**server, "user": user}))
    native.write_dataframe(typed_dataframe(spark), WriteRequest(table=TableRef(table)))
    _vacuum_crawling(server, table)
    start = server["log"].stat().st_size
    native.write_dataframe(typed_dataframe(spark), WriteRequest(table=TableRef(table), mode=mode))
    assert len(pg_rows(server, table)) == 7
    return _waits(server["log"], start)


@pytest.mark.parametrize("mode", ["overwrite", "truncate"])
def test_a_superuser_write_waits_20_ms_not_a_second_for_autovacuum(
        spark: Any, pg_eager_autovacuum: dict[str, Any], mode: str) -> None:
    waits = _write_under_autovacuum(spark, pg_eager_autovacuum, f"av_{mode}", mode)

    assert waits and all(ms < 500 for ms in waits), waits


def test_another_role_writes_as_before_and_waits_postgres_own_second(
        spark: Any, pg_eager_autovacuum: dict[str, Any]) -> None:
    """The shortening is a superuser's only: for another role the statement does nothing (and
    fails nothing), and the wait is PostgreSQL's ``deadlock_timeout``, which also shows the
    superuser tests above would see a second without the shortening."""
    server = pg_eager_autovacuum
    with pg_client(server) as conn:
        conn.execute("CREATE ROLE plain LOGIN")
        conn.execute("GRANT CREATE ON SCHEMA public TO plain")
    waits = _write_under_autovacuum(spark, server, "av_plain", "overwrite", user="plain")

    assert waits and all(ms >= 1000 for ms in waits), waits
