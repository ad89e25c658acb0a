"""The warm local engine: `dvt server start|status|stop` runs a real Spark Connect server on
loopback from the installed PySpark with the synced jars; a client reads PostgreSQL through it
over JDBC (the synced driver is on the server); the fixture ends exactly the PID it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults.conftest import (
    DB_SECRET,
    PG,
    SECRETS,
    Cli,
    assert_no_secret,
    pg_table,
    psql,
    read_proc,
    unique,
)

pytestmark = [pytest.mark.cluster, pytest.mark.spark, pytest.mark.postgres]


@pytest.fixture(scope="module")
def server(cli: Cli) -> Iterator[dict[str, object]]:
    started = cli.run("server", "start", "--json", timeout=600)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads(started.stdout)
    pid = int(state["pid"])
    try:
        yield state
    finally:
        stopped = cli.run("server", "stop", "--json")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists() or "SparkConnectServer" not in read_proc(
                    pid, "cmdline"):
                break
            time.sleep(0.1)
        else:  # `dvt server stop` failed: end the server this fixture started, by its PID
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"`dvt server stop` left PID {pid} running")


def test_status_shows_the_server_on_loopback_with_the_synced_jars(
        cli: Cli, server: dict[str, object]) -> None:
    status = cli.run("server", "status", "--json")
    doc = json.loads(status.stdout)
    assert doc["running"] is True and doc["pid"] == server["pid"]
    assert doc["url"] == f"sc://localhost:{server['port']}"
    assert int(doc["jars"]) >= 2  # the PostgreSQL and MariaDB drivers from `dvt sync`
    cmdline = read_proc(int(server["pid"]), "cmdline")
    assert "SparkConnectServer" in cmdline
    assert "spark.connect.grpc.binding.address=127.0.0.1" in cmdline
    assert "postgresql-42" in cmdline
    # a second start finds the running one and starts nothing
    again = json.loads(cli.run("server", "start", "--json").stdout)
    assert again["pid"] == server["pid"]


CLIENT = textwrap.dedent("""
    import json, sys
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    df = (spark.read.format("jdbc").option("url", sys.argv[2]).option("dbtable", sys.argv[3])
          .option("user", sys.argv[4]).option("password", sys.stdin.read())
          .option("driver", "org.postgresql.Driver").load())
    rows = sorted(f"{r.id}|{r.v}" for r in df.collect())
    print(json.dumps(rows))
""")


def test_a_jdbc_read_runs_on_the_server_with_the_synced_driver_and_no_secret_on_a_command_line(
        cli: Cli, server: dict[str, object]) -> None:
    table = unique("cn_read")
    pg_table(table, "id bigint, v text", "SELECT g, 'row ' || g FROM generate_series(1, 3000) g")
    url = f"jdbc:postgresql://{PG['host']}:{PG['port']}/{PG['database']}"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", CLIENT, str(server["url"]), url, table,
             str(PG["user"])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=cli.env)
        assert proc.stdin is not None
        proc.stdin.write(DB_SECRET)  # the password travels over gRPC, never on a command line
        proc.stdin.close()
        while proc.poll() is None:
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    cmdline = read_proc(entry.name, "cmdline")
                    for secret in SECRETS:
                        assert secret not in cmdline
            time.sleep(0.1)
        out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
        assert proc.returncode == 0, err[-3000:]
        expected = sorted(psql(f"SELECT id || '|' || v FROM {table}").splitlines())
        assert json.loads(out) == expected
        log = Path(str(server["log"])).read_text(errors="replace")
        assert_no_secret(log)
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")


def test_a_transfer_on_connect_is_one_clear_error(cli: Cli, server: dict[str, object]) -> None:
    done = cli.run("transfer", "--source", "pg", "--table", "t", "--target-table", "t",
                   "--master", "local-server")
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("Error: --master is the Spark Connect server `local-server`, "
                               "and transfers cannot run on Spark Connect yet"), lines
    assert "Traceback" not in done.stderr
