"""`--verify`: the checksum SQL each database runs (pure), what passes and what fails per mode,
and how the results and the summary table show it. The checksums themselves run on the real
databases in test_keys_verify.py."""

from __future__ import annotations

import re

import pytest
from pyspark.sql import types as T

from dvt_connect.cli.views import show_run
from dvt_connect.config import load_project
from dvt_connect.console import CaptureConsole
from dvt_connect.databases import database as get_database
from dvt_connect.errors import UsageError
from dvt_connect.replication.results import ColumnCheck, RunResults, StreamResult, Verification
from dvt_connect.replication.runner import RunOptions
from dvt_connect.replication.verify import Column, check_level, checksum_select, columns_of


def test_type_classes_from_spark_types():
    columns = columns_of([("id", T.LongType()), ("amount", T.DecimalType(12, 2)),
                          ("name", T.StringType()), ("at", T.TimestampType()),
                          ("price", T.DoubleType()), ("wall", T.TimestampNTZType())])
    assert [(c.name, c.kind, c.precision, c.scale) for c in columns] == [
        ("id", "integer", 0, 0), ("amount", "decimal", 12, 2), ("name", "string", 0, 0),
        ("at", "timestamp", 0, 0), ("price", None, 0, 0), ("wall", None, 0, 0)]


def test_postgres_and_mariadb_checksum_one_query_each():
    columns = [Column("id", "integer"), Column("amount", "decimal", 12, 2),
               Column("at", "timestamp")]
    pg = checksum_select(get_database("postgres"), columns,
                         'SELECT "id", "amount", "at" FROM "s"."t" WHERE id > 3')
    assert pg == (
        "SELECT COUNT(*), COUNT(\"id\"), SUM(('x' || substr(md5(CAST(\"id\" AS text)), 1, 8))"
        "::bit(32)::bigint), COUNT(\"amount\"), SUM(('x' || substr(md5(CAST(CAST(\"amount\" "
        "AS numeric(12, 2)) AS text)), 1, 8))::bit(32)::bigint), COUNT(\"at\"), SUM(('x' || "
        "substr(md5(to_char(\"at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')), 1, 8))"
        "::bit(32)::bigint) FROM (SELECT \"id\", \"amount\", \"at\" FROM \"s\".\"t\" WHERE "
        "id > 3) dvt_v")
    maria = checksum_select(get_database("mariadb"), columns[:2], "`db`.`t`")
    assert maria == (
        "SELECT COUNT(*), COUNT(`id`), SUM(CAST(CONV(SUBSTRING(MD5(CAST(`id` AS CHAR)), 1, 8), "
        "16, 10) AS UNSIGNED)), COUNT(`amount`), SUM(CAST(CONV(SUBSTRING(MD5(CAST(CAST("
        "`amount` AS DECIMAL(12, 2)) AS CHAR)), 1, 8), 16, 10) AS UNSIGNED)) FROM `db`.`t`")


def _checked(mode: str, source: int, target: int, *, same: bool) -> Verification:
    columns = (ColumnCheck("id", 3, 10, 3, 10),
               ColumnCheck("label", 3, 77, 3, 77 if same else 78),
               ColumnCheck("amount", 3, 5, 2 if not same else 3, 5))
    return Verification(source, target, source, mode, level="checksum", columns=columns,
                        unchecked=("price",))


def test_a_checksum_mismatch_names_the_columns():
    bad = _checked("overwrite", 3, 3, same=False)
    assert not bad.ok and bad.mismatched == ["label", "amount"]
    assert bad.failure() == ("verify: checksum of column `label` differs (source 3 values, "
                             "checksum 77; target 3 values, checksum 78); also `amount`")
    good = _checked("overwrite", 3, 3, same=True)
    assert good.ok and good.failure() is None
    assert good.summary() == "checksums ok (3 columns), not covered: price"
    doc = bad.to_dict()
    assert doc["mismatched_columns"] == ["label", "amount"] and doc["not_checksummed"] == [
        "price"]
    assert doc["columns"][1] == {"column": "label", "ok": False,
                                 "source": {"values": 3, "checksum": "77"},
                                 "target": {"values": 3, "checksum": "78"}}


def test_a_merge_target_holding_other_rows_is_counted_not_checksummed():
    merged = _checked("merge", 3, 5, same=False)
    assert merged.ok and not merged.compared and merged.mismatched == []
    assert merged.summary().startswith("counts ok (checksums not compared")
    assert not _checked("merge", 3, 3, same=False).ok  # same rows: they must match


def test_verify_levels_and_a_database_without_checksums_is_refused(tmp_path):
    assert RunOptions(verify=True).verify == "counts"
    assert RunOptions(verify=False).verify is None
    with pytest.raises(UsageError, match=r"--verify takes counts or checksum, not `full`"):
        RunOptions(verify="full")
    (tmp_path / "profiles.yml").write_text(
        "p:\n  target: lite\n  outputs:\n    lite:\n      type: sqlite\n"
        f"      path: {tmp_path / 'x.db'}\n    lake:\n      type: files\n"
        f"      path: {tmp_path / 'lake'}\n")
    project = load_project(tmp_path)
    lite, lake = project.connection("lite"), project.connection("lake")
    check_level("counts", lite, lake)
    check_level("checksum", lake, lake)
    with pytest.raises(UsageError, match=r"(?i)--verify checksum: sqlite output `lite` has no "
                                          r"checksum SQL"):
        check_level("checksum", lite, lake)


def _run(results: list[StreamResult], *, dry_run: bool = False) -> RunResults:
    return RunResults(run_id="r1", replication_file="r.yml", started=0.0, completed=1.0,
                      results=results, dry_run=dry_run)


def test_the_summary_shows_keys_high_water_marks_and_the_failed_column():
    events = StreamResult(stream="s.events", status="error", source_table="s.events",
                          target_table="events", mode="incremental", primary_key=("id",),
                          update_key="updated_at", rows=15, plan_started=0.0,
                          plan_completed=0.1, execute_started=0.1, execute_completed=0.9,
                          high_water_mark="2025-02-05 09:30:00.123456+00:00",
                          verify=_checked("incremental", 3, 3, same=False))
    events.message = events.verify.failure() if events.verify else None
    accounts = StreamResult(stream="s.accounts", status="success", source_table="s.accounts",
                            target_table="accounts", mode="merge", primary_key=("id",),
                            rows=5, verify=_checked("merge", 3, 3, same=True))
    console = CaptureConsole()
    show_run(console, _run([events, accounts]), as_json=False)
    title, columns, rows = console.tables[0][:3]
    assert columns == ["stream", "status", "rows", "bytes", "time", "connector", "mode",
                       "high-water mark", "verify", "error"]
    assert rows[0][6] == "incremental (key id; by updated_at)"
    assert rows[0][7] == "2025-02-05 09:30:00.123456+00:00" and rows[0][8] == "MISMATCH"
    assert re.search(r"checksum of column `label` differs", rows[0][9])
    assert rows[1][6:9] == ["merge (key id)", "-", "checksums ok (3 columns), not covered: "
                                                   "price"]
    assert any("Failed: s.events" in m for kind, m in console.messages if kind == "error")

    planned = StreamResult(stream="s.events", status="planned", source_table="s.events",
                           target_table="events", mode="incremental", update_key="updated_at",
                           primary_key=("id",), high_water_mark=None,
                           plan={"read": {"connector": "jdbc", "partitions": [{}],
                                          "reason": "JDBC"}})
    console = CaptureConsole()
    show_run(console, _run([planned], dry_run=True), as_json=False)
    _, columns, rows = console.tables[0][:3]
    assert columns[7] == "high-water mark" and rows[0][7] == "none: full load"
