"""Finding 5: SIGTERM is handled like SIGINT, neither prints a traceback, and neither leaves a
staging table or a staging folder behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from faults.conftest import Cli, descendants, psql, unique

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]


def _stage_tables(target: str) -> list[str]:
    return psql(f"SELECT relname FROM pg_class WHERE relname LIKE '{target}\\_\\_dvt\\_%'"
                ).split()


def _strike(proc: subprocess.Popen[str], seen: Callable[[], bool], signum: int,
            ) -> tuple[str, str]:
    """Send ``signum`` once the write is under way (``seen``), then collect the output."""
    deadline = time.monotonic() + 300
    while proc.poll() is None and not seen() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the transfer ended before it could be signalled"
    assert seen(), "the write never started"
    time.sleep(0.5)  # tasks are writing
    proc.send_signal(signum)
    return proc.communicate(timeout=300)


def test_sigterm_into_postgres_exits_143_with_one_line_and_drops_the_staging_table(
        cli: Cli, big_table: str) -> None:
    target = unique("sigterm")
    proc = cli.start("transfer", "--source", "pg", "--table", big_table, "--target", "pg",
                     "--target-table", target, "--connector", "jdbc")
    out, err = _strike(proc, lambda: bool(_stage_tables(target)), signal.SIGTERM)
    assert proc.returncode == 143, err
    assert err.strip() == "Terminated (SIGTERM).", err
    assert _stage_tables(target) == []
    assert psql(f"SELECT to_regclass('{target}') IS NULL") == "t"  # target as it was: absent


def test_sigint_into_files_exits_130_with_one_line_and_no_staging_folder(
        cli: Cli, big_table: str) -> None:
    target = unique("sigint")

    def staged() -> list[str]:
        return [p.name for p in cli.lake.glob(f".{target}*")] if cli.lake.exists() else []

    proc = cli.start("transfer", "--source", "pg", "--table", big_table,
                     "--target-table", target, "--json")
    out, err = _strike(proc, lambda: any("__dvt_stage_" in n for n in staged()), signal.SIGINT)
    assert proc.returncode == 130, err
    assert err.strip() == "Interrupted.", err
    assert '"ok": false' in out and '"exit_code": 130' in out
    time.sleep(1)  # nothing re-creates it after the process has gone
    assert staged() == []
    assert not (cli.lake / target).exists()


def _kill_tree_mid_write(cli: Cli, seen: Callable[[], bool], *args: str) -> None:
    """Start a transfer and, once ``seen``, SIGKILL the whole tree: dvt, its JVM and its Python
    workers (as the OOM killer or a lost machine would)."""
    proc = cli.start("transfer", *args)
    deadline = time.monotonic() + 600
    while not seen() and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it was killed"
        time.sleep(0.1)
    assert seen(), "the write never started"
    for pid in reversed(descendants(proc.pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=120)


def test_kill_9_leftovers_are_listed_by_debug_and_removed_only_by_clean_yes(
        cli: Cli, big_table: str) -> None:
    target = unique("killed")

    def folders() -> list[Path]:
        return list(cli.lake.glob(f".{target}__dvt_stage_*")) if cli.lake.exists() else []

    # one run into PostgreSQL, one into a files target, each killed hard mid-write
    _kill_tree_mid_write(cli, lambda: bool(_stage_tables(target)), "--target", "pg",
                         "--target-table", target, "--connector", "jdbc",
                         "--source", "pg", "--table", big_table)
    _kill_tree_mid_write(cli, lambda: bool(folders()), "--target-table", target,
                         "--source", "pg", "--table", big_table)
    [table] = _stage_tables(target)
    [folder] = folders()
    # Spark's temporary folders of both killed runs, in their run folders under DVT_HOME
    runs = Path(cli.env["DVT_HOME"]) / "tmp"
    spark_dirs = [d for d in runs.glob("spark-*") if not _alive(d)]
    assert len(spark_dirs) >= 2 and all(any(d.iterdir()) for d in spark_dirs), spark_dirs

    scope = ("--output", "pg", "--output", "lake")
    debug = cli.run("debug", "--older-than", "0s", "--json")
    found = {item["name"] for item in json.loads(debug.stdout)["leftovers"]["leftovers"]}
    assert f"public.{table}" in found and str(folder) in found, debug.stdout
    # exactly the dead runs' folders: not the folder of `dvt debug` itself, which was running
    assert {n for n in found if n.startswith(str(runs))} == {str(d) for d in spark_dirs}
    kept = cli.run("clean", *scope, "--older-than", "1h")  # younger than the threshold
    assert kept.returncode == 0 and table not in kept.stdout, kept.stdout
    dry = cli.run("clean", *scope, "--older-than", "0s")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: " in dry.stdout and table[:20] in dry.stdout, dry.stdout
    assert _stage_tables(target) == [table] and folder.is_dir()  # listed, kept
    assert all(d.is_dir() for d in spark_dirs)
    done = cli.run("clean", *scope, "--older-than", "0s", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _stage_tables(target) == [] and not folder.exists()
    assert not any(d.exists() for d in spark_dirs)
    assert list(runs.glob("spark-*")) == []  # the finished runs removed their own


def _alive(folder: Path) -> bool:
    from dvt_connect import run_folders

    return bool(run_folders.owner_alive(folder))
