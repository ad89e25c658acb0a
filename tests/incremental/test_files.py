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
