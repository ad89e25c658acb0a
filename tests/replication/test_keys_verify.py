"""Keyed streams (merge, incremental) and `--verify checksum` on real databases: PostgreSQL in,
PostgreSQL, MariaDB and Parquet out; every target compared with the source as the databases'
own clients read them."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator

import pytest

from dvt_connect.config import load_project
from dvt_connect.console import CaptureConsole
from dvt_connect.replication import RunOptions, run_replication

from .conftest import maria, psql, write_profiles

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

ACCOUNTS = """
    SELECT g, 'account ' || g, (g * 37 % 100000) / 100.0, g % 3 = 0,
           date '2020-01-01' + (g % 900)
    FROM generate_series({low}, {high}) g"""
EVENTS = """
    SELECT g, (ARRAY['open','close','move'])[1 + g % 3], (g * 7 % 10000) / 1000.0,
           timestamptz '2024-01-01 00:00:00.123456+00' + g * interval '61.000001 seconds'
    FROM generate_series({low}, {high}) g"""


@pytest.fixture
def schemas(pg: dict[str, object]) -> Iterator[tuple[str, str]]:
    """``src``: accounts (merge stream) and events (incremental stream), 2,000 rows each;
    ``tgt``: an empty schema for the targets."""
    tag = uuid.uuid4().hex[:6]
    src, tgt = f"repl_keys_src_{tag}", f"repl_keys_tgt_{tag}"
    psql(f"""
        CREATE SCHEMA {src}; CREATE SCHEMA {tgt};
        CREATE TABLE {src}.accounts (id bigint PRIMARY KEY, name text,
                                     balance numeric(12,2), active boolean, opened date);
        INSERT INTO {src}.accounts {ACCOUNTS.format(low=1, high=2000)};
        CREATE TABLE {src}.events (id bigint PRIMARY KEY, kind text, amount numeric(10,3),
                                   updated_at timestamptz);
        INSERT INTO {src}.events {EVENTS.format(low=1, high=2000)};
        ANALYZE {src}.accounts; ANALYZE {src}.events;""")
    yield src, tgt
    psql(f"DROP SCHEMA {src} CASCADE; DROP SCHEMA {tgt} CASCADE;")


@pytest.fixture
def project(tmp_path):  # type: ignore[no-untyped-def]
    write_profiles(tmp_path / "cfg", tmp_path / "lake")
    return load_project(tmp_path / "cfg")


def _table(schema: str, table: str) -> str:
    return psql(f"SELECT * FROM {schema}.{table} ORDER BY id")


def test_merge_and_incremental_streams_run_twice_match_the_source(
        spark, schemas, project, tmp_path, _isolated_home):
    src, tgt = schemas
    path = tmp_path / "replication.yml"
    path.write_text(textwrap.dedent(f"""
        source: pg
        target: pg
        defaults:
          object: "{tgt}.{{table}}"
          primary_key: [id]
          update_key: updated_at     # read by the incremental stream only
        streams:
          {src}.accounts:
            mode: merge
          {src}.events:
            mode: incremental
            partitions: 2
    """))
    options = RunOptions(threads=2)
    first = run_replication(spark, path, project=project, console=CaptureConsole(),
                            options=options)
    assert not first.failed, [r.message for r in first.failed]
    by_name = {r.stream: r for r in first.results}
    events = by_name[f"{src}.events"]
    assert (events.mode, events.update_key, events.primary_key) == (
        "incremental", "updated_at", ("id",))
    assert events.previous_high_water_mark is None and events.rows == 2000
    mark = psql(f"SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', "
                f"'YYYY-MM-DD HH24:MI:SS.US') FROM {src}.events")
    assert events.high_water_mark is not None and events.high_water_mark.startswith(mark)
    for table in ("accounts", "events"):
        assert _table(tgt, table) == _table(src, table)

    # the source changes: 10 rows updated and 5 inserted in each table
    psql(f"""
        UPDATE {src}.accounts SET balance = balance + 1, name = name || ' (moved)'
          WHERE id % 200 = 0;
        INSERT INTO {src}.accounts {ACCOUNTS.format(low=2001, high=2005)};
        UPDATE {src}.events SET kind = 'edit', updated_at = updated_at + interval '400 days'
          WHERE id % 200 = 0;
        INSERT INTO {src}.events {EVENTS.format(low=2001, high=2005)};""")
    plan = run_replication(spark, path, project=project, console=CaptureConsole(),
                           options=RunOptions(dry_run=True))
    planned = {r.stream: r for r in plan.results}[f"{src}.events"]
    assert planned.high_water_mark == events.high_water_mark  # the dry run shows the mark

    second = run_replication(spark, path, project=project, console=CaptureConsole(),
                             options=options)
    assert not second.failed, [r.message for r in second.failed]
    by_name = {r.stream: r for r in second.results}
    accounts, events2 = by_name[f"{src}.accounts"], by_name[f"{src}.events"]
    assert (accounts.rows, accounts.inserted, accounts.updated) == (2005, 5, 2000)
    assert (events2.rows, events2.inserted, events2.updated) == (15, 5, 10)
    assert events2.previous_high_water_mark == events.high_water_mark
    new_mark = psql(f"SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', "
                    f"'YYYY-MM-DD HH24:MI:SS.US') FROM {src}.events")
    assert events2.high_water_mark is not None and events2.high_water_mark.startswith(new_mark)
    for table in ("accounts", "events"):
        assert _table(tgt, table) == _table(src, table)
    saved = {r["stream"]: r for r in json.loads(second.path.read_text())["results"]}
    assert saved[f"{src}.events"]["high_water_mark"] == events2.high_water_mark
    assert saved[f"{src}.events"]["previous_high_water_mark"] == events.high_water_mark
    assert saved[f"{src}.accounts"]["primary_key"] == ["id"]

    # a target altered behind dvt's back: the incremental run does not rewrite that row, and
    # the checksum names the column; the merge stream rewrites every row and verifies
    psql(f"UPDATE {tgt}.events SET kind = 'tampered' WHERE id = 7")
    third = run_replication(spark, path, project=project, console=CaptureConsole(),
                            options=RunOptions(verify="checksum"))
    by_name = {r.stream: r for r in third.results}
    bad, good = by_name[f"{src}.events"], by_name[f"{src}.accounts"]
    assert bad.status == "error" and "column `kind`" in (bad.message or ""), bad.message
    assert bad.verify is not None and bad.verify.mismatched == ["kind"]
    assert good.status == "success" and good.verify is not None and good.verify.ok
    assert good.verify.compared and {c.column for c in good.verify.columns} == {
        "id", "name", "balance", "active", "opened"}
    assert [r.stream for r in third.failed] == [f"{src}.events"]
    doc = {r["stream"]: r for r in json.loads(third.path.read_text())["results"]}
    assert doc[f"{src}.events"]["verify"]["mismatched_columns"] == ["kind"]
    assert doc[f"{src}.accounts"]["verify"]["level"] == "checksum"


@pytest.mark.mariadb
def test_checksums_agree_across_postgres_mariadb_and_parquet(spark, schemas, project,
                                                              mariadb):
    src, _ = schemas
    psql(f"UPDATE {src}.accounts SET name = NULL, balance = NULL WHERE id % 50 = 0")
    for target in ("maria", "lake"):
        spec = {"source": "pg", "target": target,
                "defaults": {"object": f"kv_{uuid.uuid4().hex[:6]}_{{table}}"},
                "streams": {f"{src}.accounts": None, f"{src}.events": None}}
        run = run_replication(spark, spec, project=project, console=CaptureConsole(),
                              options=RunOptions(verify="checksum"))
        assert not run.failed, (target, [r.message for r in run.failed])
        for result in run.results:
            verify = result.verify
            assert verify is not None and verify.level == "checksum" and verify.compared
            assert len(verify.columns) in (4, 5) and not verify.unchecked
            names = {c.column: c for c in verify.columns}
            if result.stream.endswith("accounts"):
                assert names["name"].source_values == 2000 - 40
            assert all(c.source_sum > 0 for c in verify.columns)
        if target == "maria":
            maria("DROP TABLE IF EXISTS " + ", ".join(r.target_table for r in run.results))
