"""Finding 6: a full disk is named ("no space left on device") and the target is left as it was.

A 1 MiB tmpfs is the files target's disk (mounting one needs root, which the fault suite's CI
job has; without it this test fails, it does not skip)."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.conftest import Cli, pg_table, psql, unique, write_config

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"cannot mount a small tmpfs (root needed): {done.stderr}"
    try:
        yield mount
    finally:
        # lazily: a process of the run may still hold a file there for a moment
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def test_a_full_disk_is_named_and_the_target_is_unchanged(cli: Cli, full_disk: Path,
                                                         tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = unique("faults_disk")
    pg_table(table, "id bigint PRIMARY KEY, v text",
             "SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 100000) g")
    config = tmp_path / "config"
    write_config(config, full_disk)  # the `lake` output lives on the 1 MiB disk
    on_disk = dataclasses.replace(cli, env=dict(cli.env, DVT_PROFILES_DIR=str(config)),
                                  root=config, lake=full_disk)
    before = full_disk / table
    before.mkdir()
    pq.write_table(pa.table({"id": [1, 2, 3]}), before / "part-0.parquet")
    snapshot = {p.name: p.read_bytes() for p in before.iterdir()}
    try:
        done = on_disk.run("transfer", "--source", "pg", "--table", table, "--target-table",
                           table)
        assert done.returncode == 1, done.stdout + done.stderr
        message = done.stderr.strip()
        assert message.count("\n") == 0, message
        assert "no space left on device" in message.lower(), message
        assert "Traceback" not in message
        assert {p.name: p.read_bytes() for p in before.iterdir()} == snapshot
        assert [p.name for p in full_disk.iterdir()] == [table]  # no staging folder left
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")
