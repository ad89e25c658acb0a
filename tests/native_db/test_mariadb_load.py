"""The MariaDB loader inside a task (``mysql_native.driver.load_batches``) on the real server:
chunks rendered while the previous one loads, one ``LOAD DATA`` at a time per staging table,
every chunk's warnings read, one transaction per task."""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Any

import pytest
from write.fixtures import mariadb_client

from dvt_connect.connectors.arrow_bulk.tasks import BulkWrite
from dvt_connect.connectors.mysql_native import driver

pytestmark = [pytest.mark.mariadb]


def _spec(db: dict[str, Any], table: str, chunk_rows: int) -> BulkWrite:
    params = {"host": db["host"], "port": db["port"], "user": db["user"],
              "database": db["database"]}
    return BulkWrite(dialect="mysql", params=params, schema=None, table=table,
                     columns=("id", "code"), chunk_rows=chunk_rows)


def _batches(count: int, size: int, bad_at: int | None = None) -> Any:
    import pyarrow as pa

    for b in range(count):
        ids = list(range(b * size, (b + 1) * size))
        # strings are quoted, NULL is the bare word: the text "NULL" must stay text
        codes = ["" if i % 7 == 0 else None if i % 11 == 0 else "NULL" if i % 13 == 0
                 else f"c{i % 100}" for i in ids]
        if b == bad_at:
            codes[-1] = "too long for the column"
        yield pa.RecordBatch.from_pydict({"id": pa.array(ids, pa.int64()),
                                          "code": pa.array(codes, pa.string())})


def _table(mariadb: dict[str, Any], maria_names: Any, prefix: str) -> str:
    """A fresh table shaped like a staging table of the two columns the batches have."""
    table = maria_names(prefix)
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id BIGINT, code VARCHAR(8))")
    return table


def _count(mariadb: dict[str, Any], table: str) -> int:
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return int(cur.fetchone()[0])


@pytest.fixture()
def chunk_folders(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The chunk folders the loader made in this test that are still there. Only this test's
    own: the machine's temporary folder also holds other test workers' loads while they run."""
    made: list[str] = []
    mkdtemp = tempfile.mkdtemp

    def recording(*args: Any, **kwargs: Any) -> str:
        path = mkdtemp(*args, **kwargs)
        made.append(path)
        return path
    monkeypatch.setattr(tempfile, "mkdtemp", recording)

    def left() -> set[str]:
        assert made, "the loader made no chunk folder"
        return {path for path in made if os.path.exists(path)}
    return left


def test_chunks_load_in_turn_into_one_transaction(mariadb: dict[str, Any],
                                                  maria_names: Any, chunk_folders: Any) -> None:
    table = _table(mariadb, maria_names, "load")
    spec = _spec(mariadb, table, chunk_rows=1_000)
    rows, sent = driver.load_batches(spec, mariadb.get("password"), _batches(7, 700))
    assert rows == 4_900 and sent > 0
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*), count(DISTINCT id), sum(id), sum(code IS NULL), "
                    f"sum(code = ''), sum(code = 'c42'), sum(code = 'NULL') FROM {table}")
        got = tuple(int(v) for v in cur.fetchone())
    ids = range(4_900)
    assert got == (4_900, 4_900, sum(ids), sum(1 for i in ids if i % 7 and i % 11 == 0),
                   sum(1 for i in ids if i % 7 == 0),
                   sum(1 for i in ids if i % 7 and i % 11 and i % 13 and i % 100 == 42),
                   sum(1 for i in ids if i % 7 and i % 11 and i % 13 == 0))
    assert chunk_folders() == set()


def test_a_warning_in_a_later_chunk_fails_the_task_and_keeps_nothing(
        mariadb: dict[str, Any], maria_names: Any, chunk_folders: Any) -> None:
    table = _table(mariadb, maria_names, "loadbad")
    spec = _spec(mariadb, table, chunk_rows=1_000)
    with pytest.raises(driver.LoadWarning, match="LOAD DATA changed a value"):
        driver.load_batches(spec, mariadb.get("password"), _batches(7, 700, bad_at=5))
    assert _count(mariadb, table) == 0  # the chunks loaded before it were rolled back
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        # the failed task's turn ended with its connection: another task gets it at once
        cur.execute("SELECT GET_LOCK(%s, 0)", (driver.load_lock(spec),))
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT RELEASE_LOCK(%s)", (driver.load_lock(spec),))
    assert chunk_folders() == set()
    info = driver.error_info(driver.LoadWarning(1406, "LOAD DATA changed a value: x"))
    assert info is not None and not info.transient


def test_a_failing_source_stops_the_load_and_keeps_nothing(
        mariadb: dict[str, Any], maria_names: Any, chunk_folders: Any) -> None:
    table = _table(mariadb, maria_names, "loadsrc")

    def failing() -> Any:
        yield from _batches(3, 700)
        raise OSError("the source went away")

    with pytest.raises(OSError, match="the source went away"):
        driver.load_batches(_spec(mariadb, table, chunk_rows=1_000), mariadb.get("password"),
                            failing())
    assert _count(mariadb, table) == 0
    assert chunk_folders() == set()


def test_tasks_of_one_table_take_turns(mariadb: dict[str, Any], maria_names: Any) -> None:
    """While one task holds the table's turn, another's chunk waits and then loads."""
    table = _table(mariadb, maria_names, "loadturn")
    spec = _spec(mariadb, table, chunk_rows=1_000)
    done: list[tuple[int, int]] = []
    with mariadb_client(mariadb) as holder, holder.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0)", (driver.load_lock(spec),))
        assert cur.fetchone()[0] == 1
        task = threading.Thread(target=lambda: done.append(driver.load_batches(
            spec, mariadb.get("password"), _batches(2, 700))))
        task.start()
        task.join(3)
        assert task.is_alive() and not done  # waiting for its turn, nothing loaded
        assert _count(mariadb, table) == 0
        cur.execute("SELECT RELEASE_LOCK(%s)", (driver.load_lock(spec),))
        task.join(60)
    assert done == [(1_400, done[0][1])]
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*), sum(id) FROM {table}")
        assert tuple(int(v) for v in cur.fetchone()) == (1_400, sum(range(1_400)))


def test_the_first_chunk_is_cut_small_so_the_server_starts_loading_early(tmp_path: Any) -> None:
    """The first file holds about ``FIRST_CHUNK_ROWS`` rows, the later ones ``chunk_rows``;
    every row is in one of them."""
    assert driver.FIRST_CHUNK_ROWS == 50_000
    cut = [rows for _, rows, _, _ in driver._csv_chunks(_batches(40, 10_000), str(tmp_path),
                                                         100_000)]
    assert cut == [50_000, 100_000, 100_000, 100_000, 50_000]
    small = [rows for _, rows, _, _ in driver._csv_chunks(_batches(5, 700), str(tmp_path), 1_000)]
    assert small == [1_400, 1_400, 700]
