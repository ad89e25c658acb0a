"""Finding 2 of the issue (priority 3): errors on the bulk paths keep the database's words, and a
lost connection during a bulk read is retried to an exact, complete result."""

from __future__ import annotations

import json
import time

import pytest

from faults.conftest import BIG, Cli, maria, psql, unique

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]


def _copy_backends() -> list[str]:
    """This test database's COPY backends only: other runs share the server."""
    return [pid for pid in psql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'dvt-connect' "
        "AND datname = current_database() AND state = 'active' AND query ILIKE 'COPY%' "
        "AND pid <> pg_backend_pid()").split() if pid]


def test_terminated_postgres_bulk_read_is_retried_to_an_exact_result(
        cli: Cli, big_table: str) -> None:
    target = unique("bulk_retry")
    proc = cli.start("transfer", "--source", "pg", "--table", big_table, "--connector",
                     "native", "--partitions", "2", "--target-table", target, "--json")
    killed: list[str] = []
    deadline = time.monotonic() + 300
    while proc.poll() is None and not killed and time.monotonic() < deadline:
        backends = _copy_backends()
        if backends:  # terminated at once: a 1M-row COPY is still streaming
            for pid in backends:
                psql(f"SELECT pg_terminate_backend({pid})")
            killed = backends
        time.sleep(0.05)
    out, err = proc.communicate(timeout=600)
    assert killed, "the COPY backends were never seen: nothing was terminated"
    assert proc.returncode == 0, err
    assert "retrying" in err and "Traceback" not in err
    stats = json.loads(out)
    assert stats["rows"] == BIG and stats["retries"] >= 1
    import pyarrow.parquet as pq

    table = pq.read_table(cli.lake / target)
    assert table.num_rows == BIG
    ids = table.column("id").to_pylist()
    assert len(set(ids)) == BIG and sum(ids) == BIG * (BIG + 1) // 2


def test_sql_error_in_where_on_the_postgres_bulk_path_names_the_database_error(
        cli: Cli, big_table: str) -> None:
    # valid SQL that fails only when the COPY runs (planning's WHERE 1=0 query passes)
    done = cli.run("transfer", "--source", "pg", "--table", big_table, "--connector", "native",
                   "--partitions", "1", "--where", "v::int > 3",
                   "--target-table", unique("bad_where"))
    assert done.returncode == 1
    message = done.stderr.strip()
    assert message.count("\n") == 0, message
    assert 'invalid input syntax for type integer: "' in message, message
    assert "Traceback" not in message and "Py4J" not in message and "Python worker" not in message


@pytest.mark.mariadb
def test_sql_error_in_where_on_the_mariadb_bulk_path_names_the_database_error(
        cli: Cli) -> None:
    table = unique("faults_mbad")
    maria(f"CREATE TABLE {table} (id bigint PRIMARY KEY, v varchar(20)); "
          f"INSERT INTO {table} SELECT seq, 'x' FROM seq_1_to_2000; ANALYZE TABLE {table};")
    try:
        done = cli.run("transfer", "--source", "maria", "--table", table, "--connector",
                       "native", "--partitions", "1",
                       "--where", "id > (SELECT seq FROM seq_1_to_3)",
                       "--target-table", unique("bad_where"))
        assert done.returncode == 1
        message = done.stderr.strip()
        assert message.count("\n") == 0, message
        assert "Subquery returns more than 1 row" in message and "error 1242" in message, message
        assert "Py4JJavaError" not in message and "Traceback" not in message
    finally:
        maria(f"DROP TABLE IF EXISTS {table}")

