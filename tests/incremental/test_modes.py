"""Incremental, merge and truncate on real PostgreSQL and MariaDB, over JDBC and the bulk path.

Rows are inserted, updated and deleted in the source between runs; after each run the target is
read with the database's own client and compared with the exact rows expected.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.staging import lock_key
from dvt_connect.console import CaptureConsole
from dvt_connect.errors import TransferError
from dvt_connect.transfer.run import transfer

from .conftest import Db

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]

PATHS = ["jdbc", "bulk"]


def ts(text: str, db: Db) -> datetime:
    """A source timestamp as the database's client returns it."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=timezone.utc) if db.kind == "postgres" else value


def move(spark: Any, db: Db, source: str, target: str, path: str, *,
         console: CaptureConsole | None = None, **write: Any) -> Any:
    stats = transfer(spark, db.connection, db.connection, ReadRequest(table=TableRef(source)),
                     WriteRequest(table=TableRef(target), **write),
                     connector="jdbc" if path == "jdbc" else "auto",
                     console=console or CaptureConsole())
    assert stats.target_connector.value == ("jdbc" if path == "jdbc" else db.bulk)
    assert [n for n in stats.notes if "writing over JDBC" in n] == []
    return stats


def make_source(db: Db, name: str, rows: list[tuple[Any, ...]]) -> None:
    db.run(f"CREATE TABLE {db.q(name)} (id int PRIMARY KEY, name {db.text}, "
           f"updated_at {db.ts})")
    insert(db, name, rows)


def insert(db: Db, name: str, rows: list[tuple[Any, ...]]) -> None:
    for row in rows:
        values = ", ".join("NULL" if v is None else f"'{v}'" if isinstance(v, str) else str(v)
                           for v in row)
        db.run(f"INSERT INTO {db.q(name)} VALUES ({values})")


@pytest.mark.parametrize("path", PATHS)
def test_incremental_merge_follows_inserts_and_updates(spark: Any, db: Db, path: str) -> None:
    src, dst = db.name("src"), db.name("dst")
    make_source(db, src, [(1, "a", "2024-01-01 10:00:00"), (2, "b", "2024-01-01 11:00:00"),
                          (3, "c", "2024-01-01 12:00:00")])

    first = move(spark, db, src, dst, path, mode="incremental", update_key="updated_at",
                 primary_key=("id",))
    assert first.read_from is None and first.rows == 3
    assert first.high_water_mark == "2024-01-01 12:00:00.000000"
    assert db.table(dst) == db.table(src)

    db.run(f"UPDATE {db.q(src)} SET name = 'b2', updated_at = '2024-01-02 09:00:00' "
           "WHERE id = 2",
           f"DELETE FROM {db.q(src)} WHERE id = 3")
    insert(db, src, [(4, "d", "2024-01-02 10:00:00.5")])
    second = move(spark, db, src, dst, path, mode="incremental", update_key="updated_at",
                  primary_key=("id",))
    assert (second.rows, second.inserted, second.updated) == (2, 1, 1)
    assert second.read_from == "2024-01-01 12:00:00.000000"
    assert second.high_water_mark == "2024-01-02 10:00:00.500000"
    # deletes in the source are not propagated by an incremental merge (documented)
    assert db.table(dst) == [(1, "a", ts("2024-01-01 10:00:00", db)),
                             (2, "b2", ts("2024-01-02 09:00:00", db)),
                             (3, "c", ts("2024-01-01 12:00:00", db)),
                             (4, "d", ts("2024-01-02 10:00:00.5", db))]

    before = db.table(dst)
    third = move(spark, db, src, dst, path, mode="incremental", update_key="updated_at",
                 primary_key=("id",))
    assert (third.rows, third.inserted, third.updated) == (0, 0, 0)
    assert db.table(dst) == before


@pytest.mark.parametrize("path", PATHS)
def test_incremental_append_reads_only_new_rows(spark: Any, db: Db, path: str) -> None:
    src, dst = db.name("src"), db.name("dst")
    make_source(db, src, [(1, "a", "2024-01-01 10:00:00"), (2, "b", "2024-01-01 11:00:00")])
    move(spark, db, src, dst, path, mode="incremental", update_key="updated_at")
    insert(db, src, [(3, "c", "2024-01-01 12:00:00"), (4, "d", "2024-01-01 13:00:00")])
    stats = move(spark, db, src, dst, path, mode="incremental", update_key="updated_at")
    assert stats.rows == 2 and stats.inserted is None
    assert db.table(dst) == db.table(src)
    again = move(spark, db, src, dst, path, mode="incremental", update_key="updated_at")
    assert again.rows == 0 and db.table(dst) == db.table(src)
    # no key was asked for: the target has none
    assert len(db.table(dst)) == 4


@pytest.mark.parametrize("path", PATHS)
def test_merge_by_composite_key(spark: Any, db: Db, path: str) -> None:
    src, dst = db.name("src"), db.name("dst")
    db.run(f"CREATE TABLE {db.q(src)} (order_id int, line int, qty int, note {db.text})",
           f"CREATE TABLE {db.q(dst)} (order_id int NOT NULL, line int NOT NULL, qty int, "
           f"note {db.text}, PRIMARY KEY (order_id, line))")
    insert(db, dst, [(1, 1, 5, "keep"), (1, 2, 6, "old"), (2, 1, 7, "old")])
    insert(db, src, [(1, 2, 60, "new"), (2, 1, 70, None), (2, 2, 80, "added")])

    stats = move(spark, db, src, dst, path, mode="merge", primary_key=("order_id", "line"))

    assert (stats.inserted, stats.updated) == (1, 2)
    assert db.table(dst) == [(1, 1, 5, "keep"), (1, 2, 60, "new"), (2, 1, 70, None),
                             (2, 2, 80, "added")]


@pytest.mark.parametrize("path", PATHS)
def test_failure_inside_the_merge_leaves_the_target_as_it_was(spark: Any, db: Db,
                                                              path: str) -> None:
    src, dst = db.name("src"), db.name("dst")
    db.run(f"CREATE TABLE {db.q(src)} (id int, qty int)",
           f"CREATE TABLE {db.q(dst)} (id int PRIMARY KEY, qty int CHECK (qty < 1000))")
    insert(db, dst, [(i, i) for i in range(1, 6)])
    # updates and inserts that pass, and one row the target's CHECK refuses mid-statement
    insert(db, src, [(i, i * 10) for i in range(1, 9)] + [(9, 5000)])
    before = db.table(dst)

    with pytest.raises(TransferError):
        move(spark, db, src, dst, path, mode="merge", primary_key=("id",))

    assert db.table(dst) == before


def test_merge_needs_a_unique_key_on_the_target(spark: Any, db: Db) -> None:
    src, dst = db.name("src"), db.name("dst")
    db.run(f"CREATE TABLE {db.q(src)} (id int, qty int)",
           f"CREATE TABLE {db.q(dst)} (id int, qty int)")
    insert(db, src, [(1, 1)])
    insert(db, dst, [(1, 0)])
    with pytest.raises(TransferError, match=r"no primary key or unique index on exactly.*id"):
        move(spark, db, src, dst, "jdbc", mode="merge", primary_key=("id",))
    assert db.table(dst) == [(1, 0)]


def test_merge_creates_a_new_target_with_the_primary_key(spark: Any, db: Db) -> None:
    src, dst = db.name("src"), db.name("dst")
    db.run(f"CREATE TABLE {db.q(src)} (k1 int, k2 int, qty int)")
    insert(db, src, [(1, 1, 10), (1, 2, 20)])
    move(spark, db, src, dst, "jdbc", mode="merge", primary_key=("k1", "k2"))
    if db.kind == "postgres":
        key = db.rows("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                      f"i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{dst}'"
                      "::regclass AND i.indisprimary ORDER BY 1")
    else:
        key = db.rows("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE "
                      f"TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{dst}' AND "
                      "CONSTRAINT_NAME = 'PRIMARY' ORDER BY 1")
    assert key == [("k1",), ("k2",)]
    assert db.table(dst) == [(1, 1, 10), (1, 2, 20)]


def test_duplicate_keys_in_the_source(spark: Any, db: Db) -> None:
    src, dst = db.name("src"), db.name("dst")
    db.run(f"CREATE TABLE {db.q(src)} (id int, qty int, version int)",
           f"CREATE TABLE {db.q(dst)} (id int PRIMARY KEY, qty int, version int)")
    insert(db, src, [(1, 10, 1), (2, 20, 1), (2, 21, 3), (2, 22, 2)])
    insert(db, dst, [(2, 0, 0)])
    with pytest.raises(TransferError, match=r"more than once \(e\.g\. id=2: 3 rows\)"):
        move(spark, db, src, dst, "jdbc", mode="merge", primary_key=("id",))
    assert db.table(dst) == [(2, 0, 0)]

    stats = move(spark, db, src, dst, "jdbc", mode="merge", primary_key=("id",),
                 tie_breaker="version")
    assert (stats.inserted, stats.updated) == (1, 1)
    assert db.table(dst) == [(1, 10, 1), (2, 21, 3)]


def test_lookback_rereads_late_rows_without_duplicates(spark: Any, db: Db) -> None:
    src, dst = db.name("src"), db.name("dst")
    make_source(db, src, [(1, "a", "2024-01-01 10:00:00"), (2, "b", "2024-01-01 12:00:00")])
    move(spark, db, src, dst, "bulk", mode="incremental", update_key="updated_at",
         primary_key=("id",), lookback="2h")
    # a row that arrives late, stamped before the mark but inside the window
    insert(db, src, [(3, "late", "2024-01-01 11:30:00")])
    stats = move(spark, db, src, dst, "bulk", mode="incremental", update_key="updated_at",
                 primary_key=("id",), lookback="2h")
    assert stats.read_from == "2024-01-01 10:00:00.000000"
    # rows 1 and 2 re-read from the window start (inclusive) and merged, not duplicated
    assert (stats.rows, stats.inserted, stats.updated) == (3, 1, 2)
    assert db.table(dst) == db.table(src)


def test_microsecond_update_keys_at_the_mark(spark: Any, db: Db) -> None:
    src, dst = db.name("src"), db.name("dst")
    make_source(db, src, [(1, "a", "2024-01-01 10:00:00.000001")])
    first = move(spark, db, src, dst, "jdbc", mode="incremental", update_key="updated_at",
                 primary_key=("id",))
    assert first.high_water_mark == "2024-01-01 10:00:00.000001"
    insert(db, src, [(2, "one micro later", "2024-01-01 10:00:00.000002"),
                     (3, "at the mark", "2024-01-01 10:00:00.000001"),
                     (4, "before", "2024-01-01 10:00:00")])
    stats = move(spark, db, src, dst, "jdbc", mode="incremental", update_key="updated_at",
                 primary_key=("id",))
    # strictly after the mark, to the microsecond: rows stamped at or before it are not read
    # (a --lookback window catches late rows)
    assert stats.rows == 1 and stats.high_water_mark == "2024-01-01 10:00:00.000002"
    assert [r[0] for r in db.table(dst)] == [1, 2]


def test_null_update_keys_are_counted_and_reported(spark: Any, db: Db) -> None:
    src, dst = db.name("src"), db.name("dst")
    make_source(db, src, [(1, "a", "2024-01-01 10:00:00"), (2, "no stamp", None)])
    move(spark, db, src, dst, "jdbc", mode="incremental", update_key="updated_at",
         primary_key=("id",))
    assert [r[0] for r in db.table(dst)] == [1, 2]  # the first run is a full load
    insert(db, src, [(3, "also none", None), (4, "d", "2024-01-02 00:00:00")])
    console = CaptureConsole()
    stats = move(spark, db, src, dst, "jdbc", console=console, mode="incremental",
                 update_key="updated_at", primary_key=("id",))
    assert stats.null_update_keys == 2
    assert any("2 source row(s) have a NULL `updated_at`" in w for w in console.warnings())
    assert [r[0] for r in db.table(dst)] == [1, 2, 4]


def test_a_second_run_waits_for_the_first(spark: Any, db: Db) -> None:
    """Another run holds the target's lock (taken here with the database's own client, the
    same lock a dvt run takes): a run with a short --lock-timeout fails clearly and writes
    nothing; one with a longer timeout waits, says so, and runs once the lock is free."""
    src, dst = db.name("src"), db.name("dst")
    db.run(f"CREATE TABLE {db.q(src)} (id int, qty int)",
           f"CREATE TABLE {db.q(dst)} (id int PRIMARY KEY, qty int)")
    insert(db, src, [(1, 10)])
    insert(db, dst, [(1, 0)])
    schema = "public" if db.kind == "postgres" else db.params["database"]
    key = lock_key(TableRef(dst, schema))
    holder = _LockHolder(db, key)
    holder.take()
    try:
        with pytest.raises(TransferError, match="another dvt run is writing"):
            move(spark, db, src, dst, "jdbc", mode="merge", primary_key=("id",),
                 lock_timeout=1)
        assert db.table(dst) == [(1, 0)]
        console = CaptureConsole()
        timer = threading.Timer(3.0, holder.release)
        timer.start()
        started = time.monotonic()
        move(spark, db, src, dst, "jdbc", console=console, mode="merge", primary_key=("id",),
             lock_timeout=120)
        assert time.monotonic() - started >= 2.5
        timer.join()
    finally:
        holder.release()
    assert any("waiting up to 120 s" in w for w in console.warnings())
    assert db.table(dst) == [(1, 10)]


class _LockHolder:
    def __init__(self, db: Db, key: str) -> None:
        self.db, self.key, self.conn, self.lock = db, key, None, threading.Lock()

    def take(self) -> None:
        if self.db.kind == "postgres":
            import psycopg

            p = self.db.params
            self.conn = psycopg.connect(host=p["host"], port=p["port"], user=p["user"],
                                        password=p.get("password", ""), dbname=p["database"],
                                        autocommit=True)
            self.conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (self.key,))
        else:
            import pymysql

            p = self.db.params
            self.conn = pymysql.connect(host=p["host"], port=p["port"], user=p["user"],
                                        password=p.get("password", ""), database=p["database"],
                                        autocommit=True)
            with self.conn.cursor() as cur:
                cur.execute("SELECT GET_LOCK(%s, 0)", (self.key,))
                assert cur.fetchone()[0] == 1

    def release(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()  # a session's locks end with it
                self.conn = None


@pytest.mark.parametrize("path", PATHS)
def test_truncate_keeps_the_table_its_view_and_grants(spark: Any, db: Db, path: str) -> None:
    src, dst = db.name("src"), db.name("dst")
    view = db.name("v")
    db.run(f"CREATE TABLE {db.q(src)} (id int, qty int)",
           f"CREATE TABLE {db.q(dst)} (id int PRIMARY KEY, qty int)",
           f"CREATE VIEW {db.q(view)} AS SELECT id, qty * 2 AS twice FROM {db.q(dst)}")
    if db.kind == "postgres":
        db.run("DO $$ BEGIN CREATE ROLE dvti_reader; EXCEPTION WHEN duplicate_object THEN "
               "NULL; END $$", f'GRANT SELECT ON "{dst}" TO dvti_reader')
        grants_sql = ("SELECT grantee, privilege_type FROM information_schema.role_table_grants"
                      f" WHERE table_name = '{dst}' AND grantee = 'dvti_reader'")
    else:
        db.run("CREATE USER IF NOT EXISTS 'dvti_reader'@'localhost'",
               f"GRANT SELECT ON `{db.params['database']}`.`{dst}` TO 'dvti_reader'@'localhost'")
        grants_sql = ("SELECT GRANTEE, PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES "
                      f"WHERE TABLE_NAME = '{dst}'")
    insert(db, dst, [(1, 1), (2, 2)])
    insert(db, src, [(5, 50), (6, 60), (7, 70)])
    grants = db.rows(grants_sql)
    assert grants

    move(spark, db, src, dst, path, mode="truncate")

    assert db.table(dst) == [(5, 50), (6, 60), (7, 70)]
    assert db.rows(f"SELECT * FROM {db.q(view)} ORDER BY 1") == [(5, 100), (6, 120), (7, 140)]
    assert db.rows(grants_sql) == grants


def test_dry_run_plan_shows_mode_key_mark_and_predicate(spark: Any, db: Db) -> None:
    from dvt_connect.transfer.run import plan_transfer

    src, dst = db.name("src"), db.name("dst")
    make_source(db, src, [(1, "a", "2024-01-01 10:00:00.25"), (2, None, None)])
    move(spark, db, src, dst, "jdbc", mode="incremental", update_key="updated_at",
         primary_key=("id",))
    before = db.table(dst)
    plan, _, _ = plan_transfer(
        spark, db.connection, db.connection, ReadRequest(table=TableRef(src), where="id > 0"),
        WriteRequest(table=TableRef(dst), mode="incremental", update_key="updated_at",
                     primary_key=("id",)), connector="jdbc")
    doc = plan.describe()
    q = '"' if db.kind == "postgres" else "`"
    literal = ("'2024-01-01 10:00:00.250000+00:00'" if db.kind == "postgres"
               else "'2024-01-01 10:00:00.250000'")
    assert doc["target"]["mode"] == "incremental" and doc["target"]["primary_key"] == ["id"]
    assert doc["incremental"] == {
        "update_key": "updated_at", "high_water_mark": "2024-01-01 10:00:00.250000",
        "read_from": "2024-01-01 10:00:00.250000",
        "predicate": f"{q}updated_at{q} > {literal}", "null_update_keys": 1}
    assert f"(id > 0) AND ({q}updated_at{q} > {literal})" in doc["read"]["sql"]
    assert any(n.startswith("merge by (id)") for n in doc["target"]["notes"])
    assert any("wait for its lock" in n for n in doc["target"]["notes"])
    assert db.table(dst) == before  # planning wrote nothing


def test_backfill_replaces_exactly_the_range(spark: Any, db: Db) -> None:
    src, dst = db.name("src"), db.name("dst")
    make_source(db, src, [(1, "jan", "2024-01-15 00:00:00"), (2, "feb", "2024-02-01 00:00:00"),
                          (3, "feb2", "2024-02-29 23:59:59.999999"),
                          (4, "mar", "2024-03-01 00:00:00")])
    move(spark, db, src, dst, "jdbc", mode="overwrite")
    # the source's February is corrected: one row changed, one deleted, one added; January
    # and March change too but lie outside the range
    db.run(f"UPDATE {db.q(src)} SET name = 'feb fixed' WHERE id = 2",
           f"DELETE FROM {db.q(src)} WHERE id = 3",
           f"UPDATE {db.q(src)} SET name = 'jan changed' WHERE id = 1",
           f"UPDATE {db.q(src)} SET name = 'mar changed' WHERE id = 4")
    insert(db, src, [(5, "feb new", "2024-02-10 12:00:00.000001")])

    stats = move(spark, db, src, dst, "bulk", mode="backfill", update_key="updated_at",
                 range="2024-02-01..2024-03-01")

    assert stats.rows == 2
    assert any("replaced the 2 row(s)" in n for n in stats.notes)
    assert db.table(dst) == [(1, "jan", ts("2024-01-15 00:00:00", db)),
                             (2, "feb fixed", ts("2024-02-01 00:00:00", db)),
                             (4, "mar", ts("2024-03-01 00:00:00", db)),
                             (5, "feb new", ts("2024-02-10 12:00:00.000001", db))]
