"""`dvt run` as a user runs it: bad replication files in-process through the one error handler
(exit 2, before Spark starts); real runs as fresh processes with jars from a real `dvt sync`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from dvt_connect.cli.main import run

from .conftest import SIZES, maria, write_profiles

DEBIAN_REPO = "file:///usr/share/maven-repo"

GOOD = """
source: pg
target: lake
streams:
  some.table:
"""


@pytest.mark.parametrize(("text", "message"), [
    (GOOD + "  other:\n    mode: upsert\n",
     r"replication\.yml: key `streams\.other\.mode`: unknown mode `upsert`; valid: overwrite, "
     r"append, truncate, merge, incremental, backfill\."),
    (GOOD + "  other:\n    mode: merge\n",
     r"replication\.yml: key `streams\.other`: mode `merge` needs `primary_key` \(the "
     r"column\(s\) rows are matched on\)"),
    (GOOD.replace("streams:", "stream:"),
     r"replication\.yml: key `stream`: unknown key `stream`.*Did you mean `streams`\?"),
    (GOOD + "  other:\n    update_key: ts\n",
     r"key `streams\.other`: `update_key` applies to mode `incremental` and backfill, not "
     r"`overwrite`"),
    (GOOD + "  x:\n    where: \"{{ env_var('REPL_CLI_UNSET') }}\"\n",
     r"key `streams\.x\.where`: environment variable `REPL_CLI_UNSET` is not set"),
    (GOOD + "  x: [a, b\n", r"replication\.yml, line \d+: YAML syntax error"),
    (GOOD.replace("source: pg", "source: lakes"),
     r"replication\.yml: key `source`: unknown output `lakes`.*Did you mean `lake`\?"),
    (GOOD.replace("source: pg", "source: lake2") + "  raw.*:\n",
     r"replication\.yml: key `streams\.raw\.\*`: a wildcard needs a database source's catalog, "
     r"and `lake2` is a files output"),
    (None, r"replication\.yml: replication file not found"),
])
def test_bad_replication_file_is_one_error_and_exit_2(text, message, tmp_path, capsys,
                                                      monkeypatch):
    write_profiles(tmp_path, tmp_path / "lake")
    monkeypatch.delenv("REPL_CLI_UNSET", raising=False)
    path = tmp_path / "replication.yml"
    if text is not None:
        path.write_text(text)
    code = run(["run", str(path), "--profiles-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in err


def _dvt(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dvt_connect", *args], env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory, pg, mariadb):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("repl-cli")
    write_profiles(root, root / "lake")
    env = dict(os.environ, DVT_HOME=str(root / "home"), DVT_PROFILES_DIR=str(root))
    env.pop("DVT_PROFILE", None)
    synced = _dvt(["sync", "--repository", DEBIAN_REPO], env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    return env, root


@pytest.mark.spark
@pytest.mark.postgres
@pytest.mark.mariadb
def test_cli_run_to_mariadb_a_failing_stream_then_retry_failed(cli_env, source_schemas):
    env, root = cli_env
    sales, _ = source_schemas
    prefix = f"r{uuid.uuid4().hex[:6]}"
    repl = root / f"{prefix}.yml"
    repl.write_text(textwrap.dedent(f"""
        source: pg
        target: maria
        defaults:
          object: "{prefix}_{{table}}"
          partitions: 1
        streams:
          {sales}.order_*:
          {sales}.customers:
          {sales}.orders:
            where: "{{{{ env_var('REPL_CLI_WHERE', 'id > 0') }}}}"
    """))
    # the failing stream's target, as it was before the run
    maria(f"CREATE TABLE {prefix}_orders (id bigint); "
          f"INSERT INTO {prefix}_orders VALUES (1), (2), (3)")
    try:
        env_bad = dict(env, REPL_CLI_WHERE="1 / (id - 30000) > -1")
        first = _dvt(["run", str(repl), "--threads", "3", "--verify"], env_bad)
        assert first.returncode == 1, first.stdout + first.stderr
        # not a terminal: a plain line per stream start and end, then the summary table
        assert f"START {sales}.orders" in first.stdout
        assert f"OK {sales}.order_items" in first.stdout
        assert f"ERROR {sales}.orders" in first.stdout
        assert f"ERROR {sales}.orders: transfer from `pg` to `maria` failed" in first.stdout
        assert "division by zero" in first.stdout  # in its line and in the summary table
        assert f"Failed: {sales}.orders. Re-run them with --retry-failed" in first.stderr
        assert "Traceback" not in first.stderr
        assert maria(f"SELECT COUNT(*) FROM {prefix}_orders") == "3"
        assert maria(f"SELECT COUNT(*) FROM {prefix}_order_items") == str(SIZES["order_items"])
        assert maria(f"SELECT COUNT(*) FROM {prefix}_customers") == str(SIZES["customers"])
        results = sorted(Path(env["DVT_HOME"], "runs").glob("*/run_results.json"))
        assert len(results) == 1
        doc = json.loads(results[0].read_text())
        status = {r["stream"]: r["status"] for r in doc["results"]}
        assert status == {f"{sales}.orders": "error", f"{sales}.order_items": "success",
                          f"{sales}.customers": "success"}
        assert {r["verify"]["ok"] for r in doc["results"] if r["status"] == "success"} == {True}

        second = _dvt(["run", str(repl), "--retry-failed", "--json"], env)
        assert second.returncode == 0, second.stderr
        retried = json.loads(second.stdout)
        assert [(r["stream"], r["status"], r["rows"]) for r in retried["results"]] == [
            (f"{sales}.orders", "success", SIZES["orders"])]
        assert maria(f"SELECT COUNT(*) FROM {prefix}_orders") == str(SIZES["orders"])
    finally:
        maria(f"DROP TABLE IF EXISTS {prefix}_orders, {prefix}_order_items, "
              f"{prefix}_customers")


@pytest.mark.spark
@pytest.mark.postgres
def test_cli_dry_run_prints_each_plan_and_a_stream_matching_nothing_exits_2(cli_env,
                                                                           source_schemas):
    env, root = cli_env
    sales, _ = source_schemas
    repl = root / "dry.yml"
    repl.write_text(f"source: pg\ntarget: lake\nstreams:\n  {sales}.*:\n")
    dry = _dvt(["run", str(repl), "--dry-run", "--exclude", "big_orders"], env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing moved" in dry.stdout
    for table in SIZES:
        assert f"{sales}.{table}" in dry.stdout
    assert "big_orders" not in dry.stdout
    assert not (root / "lake").exists()

    repl.write_text(f"source: pg\ntarget: lake\nstreams:\n  {sales}.nothing_*:\n")
    bad = _dvt(["run", str(repl)], env)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert f"key `streams.{sales}.nothing_*`: stream `{sales}.nothing_*` matches no table" \
        in bad.stderr
    assert "Traceback" not in bad.stderr
