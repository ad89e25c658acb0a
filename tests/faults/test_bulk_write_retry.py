"""Finding 2, the write side: a bulk load whose database connection is lost mid-load is retried
to an exact, complete result (no row twice, none missing), into PostgreSQL (binary COPY) and
MariaDB (LOAD DATA).

Why no row can come twice: each task loads its partition in one transaction committed at its
end, so a killed connection's rows are rolled back by the server; dvt's retry of the action
fills a fresh staging table, and a task Spark itself retries (a cluster, or `local[N,F]`)
reloads only its own partition after the failed attempt's rollback (checked once by hand with
`--master local[2,3]`: 1,000,000 rows, exact, `retries` 0)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest

from faults.conftest import BIG, Cli, maria, psql, unique

PIPED = "each task pipes its partition's binary COPY"

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]


def _move_killing_the_load(cli: Cli, source: str, output: str, target: str,
                           backends: Callable[[], list[str]],
                           kill: Callable[[str], None], *extra: str) -> dict[str, Any]:
    """Move ``source`` into ``output`` on the bulk loader, Arrow end to end; kill every loading
    connection (``backends``) once rows flow, and check the run retried and moved every row.
    Returns the run's stats."""
    proc = cli.start("transfer", "--source", "pg", "--table", source, "--target", output,
                     "--target-table", target, "--connector", "native", "--route", "arrow",
                     "--partitions", "2", "--columns", "id,v", "--json", *extra)
    killed: list[str] = []
    deadline = time.monotonic() + 600
    while proc.poll() is None and not killed and time.monotonic() < deadline:
        found = backends()
        if found:  # rows are flowing into the staging table: kill now, before the load ends
            for pid in found:
                kill(pid)
            killed = found
        time.sleep(0.05)
    out, err = proc.communicate(timeout=900)
    assert killed, "the load's connections were never seen: nothing was killed"
    assert proc.returncode == 0, err
    assert "retrying" in err and "Traceback" not in err, err
    stats = json.loads(out)
    assert stats["rows"] == BIG and stats["retries"] >= 1, out
    return cast(dict[str, Any], stats)


def _source_sums(table: str) -> list[str]:
    """Rows, distinct ids, their sum and a digest of every value in id order, read by psql."""
    return psql(f"SELECT count(*), count(DISTINCT id), sum(id), "
                f"md5(string_agg(v, ',' ORDER BY id)) FROM {table}").split("|")


def _pipe_with_a_backend_terminated(cli: Cli, big_table: str, target: str,
                                    query_like: str, source: str | None = None,
                                    *extra: str) -> None:
    """PostgreSQL to PostgreSQL (each task pipes the source's COPY TO STDOUT into the staging
    table's COPY FROM STDIN) from ``source`` (``big_table`` or a view of its rows); the
    backends whose query is ``ILIKE query_like`` terminated once rows flow. The run retries to
    the big table's exact rows and leaves no side table."""

    def backends() -> list[str]:
        return psql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    f"AND state = 'active' AND query ILIKE '{query_like}' "
                    "AND pid <> pg_backend_pid()").split()

    try:
        stats = _move_killing_the_load(cli, source or big_table, "pg", target, backends,
                                       lambda pid: psql(f"SELECT pg_terminate_backend({pid})"),
                                       *extra)
        assert any(PIPED in n for n in stats["notes"]), stats["notes"]
        assert _source_sums(target) == _source_sums(big_table)
        assert psql(f"SELECT count(*) FROM pg_class WHERE relname LIKE "
                    f"'{target}\\_\\_dvt\\_%'") == "0"
    finally:
        psql(f"DROP TABLE IF EXISTS {target}")


def test_terminated_postgres_bulk_write_is_retried_to_an_exact_result(
        cli: Cli, big_table: str) -> None:
    target = unique("bulk_wretry")
    # the COPY FROM STDIN into this run's staging table, nothing else on the server
    with _slow_view(big_table) as slow:
        _pipe_with_a_backend_terminated(cli, big_table, target,
                                        f"COPY %{target}\\_\\_dvt\\_stage%FROM STDIN%", slow,
                                        "--partition-column", "id")


def test_terminated_source_of_a_postgres_pipe_is_retried_to_an_exact_result(
        cli: Cli, big_table: str) -> None:
    # the other end of the pipe this time: the source's export
    with _slow_view(big_table) as slow:
        _pipe_with_a_backend_terminated(cli, big_table, unique("bulk_pretry"),
                                        f"COPY (SELECT %{slow}%TO STDOUT%", slow,
                                        "--partition-column", "id")


@contextmanager
def _slow_view(big_table: str) -> Iterator[str]:
    """A view of the big table's rows that pauses 0.4 s every 100,000 of them, so each pipe's
    streams last about 2 s: the pipe empties a 500,000-row partition of the table itself in well
    under a second, which a loaded machine's polling can miss (the kill then lands after the
    stream ended, and nothing fails)."""
    slow = unique("faults_slow")
    psql(f"CREATE VIEW {slow} AS SELECT * FROM {big_table} WHERE CASE WHEN id % 100000 = 0 "
         "THEN pg_sleep(0.4) IS NOT NULL ELSE true END")
    try:
        yield slow
    finally:
        psql(f"DROP VIEW IF EXISTS {slow}")


@pytest.mark.mariadb
def test_killed_mariadb_bulk_write_is_retried_to_an_exact_result(
        cli: Cli, big_table: str) -> None:
    target = unique("bulk_wretry")

    def load_data() -> list[str]:
        return maria("SELECT id FROM information_schema.processlist WHERE db = DATABASE() "
                     f"AND info LIKE 'LOAD DATA%{target}\\_\\_dvt\\_stage%' "
                     "AND id <> CONNECTION_ID()").split()

    try:
        _move_killing_the_load(cli, big_table, "maria", target, load_data,
                               lambda pid: maria(f"KILL {pid}"))
        got = maria("SET SESSION group_concat_max_len = 1073741824; "
                    "SELECT count(*), count(DISTINCT id), sum(id), "
                    f"md5(group_concat(v ORDER BY id SEPARATOR ',')) FROM {target}")
        assert got.split("\t") == _source_sums(big_table), got
        assert maria("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                     f"DATABASE() AND table_name LIKE '{target}\\_\\_dvt\\_%'") == "0"
    finally:
        maria(f"DROP TABLE IF EXISTS {target}")
