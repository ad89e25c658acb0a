"""Finding 1: bucket credentials never on a command line, in a process environment or in the
JVM's hsperfdata file; set on the running context, and only for the buckets a transfer uses."""

from __future__ import annotations

import getpass
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from faults.conftest import (
    SECRETS,
    Cli,
    assert_no_secret,
    descendants,
    pg_table,
    psql,
    read_proc,
    unique,
)

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]


def _hsperf_files() -> list[Path]:
    folder = Path(tempfile.gettempdir()) / f"hsperfdata_{getpass.getuser()}"
    return list(folder.glob("*")) if folder.is_dir() else []


def test_no_secret_in_any_process_command_line_or_environment_while_a_transfer_runs(
        cli: Cli) -> None:
    table = unique("faults_cmdline")
    pg_table(table, "id bigint, v text", "SELECT g, 'row ' || g FROM generate_series(1, 20000) g")
    try:
        proc = cli.start("transfer", "--source", "pg", "--table", table, "--target-table", table)
        seen_java = False
        scanned = 0
        while proc.poll() is None:
            ours = set(descendants(proc.pid))
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                cmdline = read_proc(entry.name, "cmdline")
                scanned += 1
                if int(entry.name) in ours:
                    seen_java = seen_java or "SparkSubmit" in cmdline
                    assert_no_secret(read_proc(entry.name, "environ"))
                for secret in SECRETS:
                    assert secret not in cmdline, f"secret on the command line of {entry.name}"
            for perf in _hsperf_files():
                try:
                    data = perf.read_bytes()
                except OSError:
                    continue
                for secret in SECRETS:
                    assert secret.encode() not in data, f"secret in {perf}"
            time.sleep(0.1)
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert_no_secret(out + err)
        assert seen_java, "the scan never saw the Spark JVM: it proved nothing"
        assert scanned > 100
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")


def test_credentials_are_set_on_the_running_context_only_for_the_buckets_used(
        spark: Any, cli: Cli) -> None:
    from dvt_connect.config import load_project
    from dvt_connect.transfer.credentials import apply_bucket_credentials, buckets_in_use

    project = load_project(cli.root, "faults", None)
    used = buckets_in_use(project, [project.connection("pg"), project.connection("s3lake")],
                          preferred=None)
    assert [b.name for b in used] == ["s3_used"]
    apply_bucket_credentials(spark, used)
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    assert hadoop.get("fs.s3a.bucket.dvt-fault-used.secret.key") == SECRETS[1]
    assert hadoop.get("fs.s3a.bucket.dvt-fault-used.session.token") == SECRETS[2]
    host = "dvtfaultunused.dfs.core.windows.net"
    assert hadoop.get(f"fs.azure.account.key.{host}") is None
    assert not any(SECRETS[1] in v for v in spark.sparkContext.getConf().getAll()
                   for v in v)  # the Spark conf (shown in logs and the UI) never holds it
    # a transfer between two databases uses no bucket at all
    assert buckets_in_use(project, [project.connection("pg"), project.connection("maria")],
                          preferred=None) == []
