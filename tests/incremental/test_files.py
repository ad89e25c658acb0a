"""Files targets: incremental appends the new rows as new files (read back with pyarrow, not
through dvt); merge is refused with a pointer to table formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from write.fixtures import files_connection

from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.console import CaptureConsole
from dvt_connect.errors import UsageError
from dvt_connect.transfer.run import transfer

from .conftest import Db

pytestmark = [pytest.mark.spark, pytest.mark.postgres]


@pytest.fixture
def pg_db(pg: dict[str, Any]) -> Any:
    database = Db("postgres", pg)
    yield database
    database.drop_all()


def parquet_rows(folder: Path) -> list[tuple[Any, ...]]:
    import pyarrow.parquet as pq

    table = pq.read_table(str(folder))
    return sorted(zip(*[table.column(c).to_pylist() for c in ("id", "seq")], strict=True))


def test_incremental_appends_new_files(spark: Any, pg_db: Db, tmp_path: Path) -> None:
    src = pg_db.name("src")
    pg_db.run(f'CREATE TABLE "{src}" (id int PRIMARY KEY, seq bigint)',
              f'INSERT INTO "{src}" SELECT g, g * 10 FROM generate_series(1, 5) g')
    lake = files_connection(tmp_path / "lake")

    def run() -> Any:
        return transfer(spark, pg_db.connection, lake, ReadRequest(table=TableRef(src)),
                        WriteRequest(table=TableRef("events"), mode="incremental",
                                     update_key="seq"), console=CaptureConsole())

    first = run()
    folder = tmp_path / "lake" / "events"
    files_before = sorted(p.name for p in folder.glob("*.parquet"))
    assert first.rows == 5 and first.high_water_mark == "50"
    pg_db.run(f'INSERT INTO "{src}" VALUES (6, 60), (7, 70)',
              f'UPDATE "{src}" SET seq = 5 WHERE id = 1')  # below the mark: not read
    second = run()
    assert second.rows == 2 and second.read_from == "50" and second.high_water_mark == "70"
    assert parquet_rows(folder) == [(i, i * 10) for i in range(1, 8)]
    files_after = sorted(p.name for p in folder.glob("*.parquet"))
    assert set(files_before) < set(files_after)  # old files untouched, new ones added
    assert not list(tmp_path.glob("lake/.events.dvt-lock"))


def test_merge_into_files_is_refused(spark: Any, pg_db: Db, tmp_path: Path) -> None:
    src = pg_db.name("src")
    pg_db.run(f'CREATE TABLE "{src}" (id int PRIMARY KEY, seq bigint)')
    lake = files_connection(tmp_path / "lake")
    with pytest.raises(UsageError, match="cannot merge by key.*Delta, Iceberg"):
        transfer(spark, pg_db.connection, lake, ReadRequest(table=TableRef(src)),
                 WriteRequest(table=TableRef("events"), mode="merge", primary_key=("id",)))
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").iterdir())


def _gone_pid() -> int:
    """The PID of a process that ran here and is gone (reaped)."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_lock_file_of_a_run_that_is_gone_is_taken_over_and_a_live_one_waited_for(
        spark: Any, pg_db: Db, tmp_path: Path) -> None:
    import os
    import socket

    from dvt_connect.connectors.files import lock_owner
    from dvt_connect.errors import TransferError

    src = pg_db.name("src")
    pg_db.run(f'CREATE TABLE "{src}" (id int PRIMARY KEY, seq bigint)',
              f'INSERT INTO "{src}" SELECT g, g * 10 FROM generate_series(1, 3) g')
    lake = files_connection(tmp_path / "lake")
    lock = tmp_path / "lake" / ".events.dvt-lock"
    lock.parent.mkdir(parents=True)

    def run(timeout: float) -> tuple[Any, CaptureConsole]:
        console = CaptureConsole()
        stats = transfer(spark, pg_db.connection, lake, ReadRequest(table=TableRef(src)),
                         WriteRequest(table=TableRef("events"), lock_timeout=timeout),
                         console=console)
        return stats, console

    # a run killed hard on this machine left its lock: taken over at once, and said so
    gone = lock_owner().replace(f"pid {os.getpid()} ", f"pid {_gone_pid()} ")
    lock.write_text(gone)
    stats, console = run(timeout=0)
    assert stats.rows == 3 and parquet_rows(tmp_path / "lake" / "events") == [
        (1, 10), (2, 20), (3, 30)]
    assert any(kind == "warn" and "took over the lock file" in text and gone in text
               for kind, text in console.messages), console.messages
    assert not lock.exists() and not list(lock.parent.glob(".events.dvt-lock*"))
    # a live run's lock (this process's), another machine's, and an earlier version's that
    # names no PID namespace: waited for, then refused with the target as it was
    before = sorted(p.name for p in (tmp_path / "lake" / "events").iterdir())
    for owner in (lock_owner(), gone.replace(f" on {socket.gethostname()} ", " on elsewhere "),
                  gone.split(" (")[0]):
        lock.write_text(owner)
        with pytest.raises(TransferError, match="another dvt run is writing"):
            run(timeout=1)
        assert lock.read_text() == owner
        assert sorted(p.name for p in (tmp_path / "lake" / "events").iterdir()) == before
    lock.unlink()
