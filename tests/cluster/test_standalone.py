"""Transfers on a real standalone cluster (one master, one worker, on loopback): the tasks run
on the worker's executors, the data arrives complete and exact (checked with psql and the
mariadb client), and no secret is on any process's command line."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from faults.conftest import SECRETS, Cli, assert_no_secret, maria, pg_table, psql, read_proc, unique

from cluster.conftest import (
    COLUMNS,
    ROWS,
    VALUES,
    Standalone,
    maria_rows,
    parquet_rows,
    replication_tables,
    source_rows,
)

pytestmark = [pytest.mark.cluster, pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]


def new_app_logs(cluster: Standalone, before: set[str]) -> dict[str, str]:
    return {k: v for k, v in cluster.executor_logs().items() if k.split("/")[0] not in before}


def apps(cluster: Standalone) -> set[str]:
    return {k.split("/")[0] for k in cluster.executor_logs()}


def assert_ran_on_executors(logs: dict[str, str], at_least: int) -> None:
    """The worker launched an executor for this application and the tasks ran there (the
    driver of a `spark://` application runs none)."""
    assert logs, "the worker started no executor for the transfer"
    finished = sum(len(re.findall(r"Finished task", text)) for text in logs.values())
    assert finished >= at_least, f"{finished} tasks finished on the executors: {list(logs)}"


def run_scanning(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `dvt` and, while it runs, read every process's command line on the machine (the
    worker's executor JVM and its Python workers included): no secret may appear."""
    proc = cli.start(*args)
    scanned, saw_executor = 0, False
    while proc.poll() is None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            cmdline = read_proc(entry.name, "cmdline")
            scanned += 1
            saw_executor = saw_executor or "CoarseGrainedExecutorBackend" in cmdline
            for secret in SECRETS:
                assert secret not in cmdline, f"a secret on the command line of {cmdline[:80]}"
        time.sleep(0.1)
    out, err = proc.communicate()
    assert_no_secret(out + err)
    assert scanned > 100
    assert saw_executor, "the scan never saw the worker's executor: it proved nothing"
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_jdbc_postgres_to_parquet_on_the_cluster_with_no_secret_on_any_command_line(
        cli: Cli, standalone: Standalone) -> None:
    table = unique("cl_pq")
    pg_table(table, COLUMNS, VALUES)
    before = apps(standalone)
    try:
        done = run_scanning(cli, "transfer", "--source", "pg", "--table", table,
                            "--target-table", table, "--connector", "jdbc", "--partitions", "4",
                            "--master", standalone.url, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f'"rows": {ROWS}' in done.stdout
        assert parquet_rows(cli.lake / table) == source_rows(table)
        assert_ran_on_executors(new_app_logs(standalone, before), at_least=4)
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.parametrize("connector", ["jdbc", "native"])
def test_postgres_to_mariadb_on_the_cluster(cli: Cli, standalone: Standalone,
                                            connector: str) -> None:
    table = unique(f"cl_{connector}")
    pg_table(table, COLUMNS, VALUES)
    before = apps(standalone)
    try:
        done = cli.run("transfer", "--source", "pg", "--table", table, "--target", "maria",
                       "--target-table", table, "--connector", connector, "--partitions", "3",
                       "--json", DVT_SPARK_MASTER=standalone.url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert maria_rows(table) == source_rows(table)
        assert_ran_on_executors(new_app_logs(standalone, before), at_least=3)
        if connector == "native":  # the Python tasks ran on the executors, from the shipped zip
            logs = "\n".join(new_app_logs(standalone, before).values())
            assert "dvt_connect-" in logs and ".zip" in logs
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")
        maria(f"DROP TABLE IF EXISTS {table}")


def test_a_replication_file_runs_on_the_cluster(cli: Cli, standalone: Standalone,
                                                tmp_path: Path) -> None:
    spec, (first, second) = replication_tables(tmp_path)
    before = apps(standalone)
    try:
        done = cli.run("run", str(spec), "--master", standalone.url, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        for table in (first, second):
            assert maria_rows(table) == source_rows(table)
        assert_ran_on_executors(new_app_logs(standalone, before), at_least=2)
    finally:
        for table in (first, second):
            psql(f"DROP TABLE IF EXISTS {table}")
            maria(f"DROP TABLE IF EXISTS {table}")


def test_executors_without_the_bulk_drivers_are_one_error_naming_them(
        cli: Cli, standalone: Standalone) -> None:
    table = unique("cl_nodrv")
    pg_table(table, COLUMNS, "SELECT 1, 'a', 1.5, now()::timestamp")
    try:
        # Debian's Python: our package arrives with the job, the drivers do not
        done = cli.run("transfer", "--source", "pg", "--table", table, "--target", "maria",
                       "--target-table", table, "--connector", "native",
                       "--master", standalone.url, PYSPARK_PYTHON="/usr/bin/python3")
        assert done.returncode == 2, done.stdout + done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        # both ends run Python in the tasks (the Arrow route); the first end checked is named
        named = re.match(r"Error: the native (PostgreSQL|MariaDB) connector runs Python on the "
                         rf"executors of {re.escape(standalone.url)}, and they cannot import ",
                         lines[0])
        assert named is not None, lines
        extra = {"PostgreSQL": "postgres", "MariaDB": "mysql"}[named.group(1)]
        assert "`pyarrow`" in done.stderr and "`dvt_connect`" not in done.stderr
        assert f'pip install "dvt-connect[{extra}]"' in done.stderr
        assert "Traceback" not in done.stderr
        assert maria(f"SHOW TABLES LIKE '{table}'") == ""
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")
