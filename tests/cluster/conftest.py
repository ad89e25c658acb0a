"""Real clusters on loopback, from PySpark's own distribution: a standalone master and one
worker (`spark-class ...Master` / `...Worker`), started once per module on free ports and
stopped by the PIDs the fixture started, nothing else."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from faults.conftest import maria, psql

HOST = "127.0.0.1"
START_TIMEOUT = 240.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@dataclass
class Standalone:
    url: str
    ui: str
    work_dir: Path
    pids: tuple[int, ...]

    def state(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=10) as response:
            return dict(json.load(response))

    def executor_logs(self) -> dict[str, str]:
        """Each executor's stderr, by `app-id/executor-id`."""
        return {f"{p.parent.parent.name}/{p.parent.name}": p.read_text(errors="replace")
                for p in sorted(self.work_dir.glob("app-*/*/stderr"))}


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    """A master and one worker (2 cores, 1.5 GiB) on loopback."""
    root = tmp_path_factory.mktemp("standalone")
    home = spark_home()
    env = dict(os.environ, SPARK_HOME=str(home), SPARK_LOCAL_IP=HOST,
               SPARK_LOG_DIR=str(root / "logs"), SPARK_WORKER_DIR=str(root / "work"),
               PYSPARK_PYTHON=sys.executable,
               SPARK_DAEMON_JAVA_OPTS=os.environ.get("DVT_JAVA_OPTIONS", ""))
    port, ui, worker_ui = free_port(), free_port(), free_port()
    spark_class = str(home / "bin" / "spark-class")
    started: list[subprocess.Popen[bytes]] = []
    try:
        started.append(_start([spark_class, "org.apache.spark.deploy.master.Master",
                               "--host", HOST, "--port", str(port), "--webui-port", str(ui)],
                              env, root / "master.log"))
        url = f"spark://{HOST}:{port}"
        started.append(_start([spark_class, "org.apache.spark.deploy.worker.Worker",
                               "--host", HOST, "--cores", "2", "--memory", "1536m",
                               "--webui-port", str(worker_ui), "--work-dir",
                               str(root / "work"), url], env, root / "worker.log"))
        cluster = Standalone(url, f"http://{HOST}:{ui}", root / "work",
                             tuple(p.pid for p in started))
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                workers = cluster.state().get("workers") or []
                if any(w.get("state") == "ALIVE" for w in workers):  # type: ignore[union-attr]
                    break
            except OSError:
                pass
            dead = [p for p in started if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join((root / n).read_text(errors="replace")[-1500:]
                                 for n in ("master.log", "worker.log"))
                pytest.fail(f"the standalone master and worker did not come up:\n{logs}")
            time.sleep(1)
        yield cluster
    finally:
        for proc in reversed(started):
            _stop(proc)


# one table every cluster test moves, and its rows as each database's own client reads them
ROWS = 6000
COLUMNS = "id bigint primary key, v text, amount numeric(12,2), ts timestamp"
VALUES = ("SELECT g, 'zeile ' || g || ' é€', (g * 7 % 100000) / 100.0, "
          "timestamp '2024-03-31 00:00:00' + g * interval '37 minutes' "
          f"FROM generate_series(1, {ROWS}) g")


def source_rows(table: str) -> list[str]:
    return psql(f"SELECT id, v, amount, to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US') FROM {table} "
                "ORDER BY id").splitlines()


def maria_rows(table: str) -> list[str]:
    out = maria(f"SELECT id, v, amount, DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f') FROM {table} "
                "ORDER BY id")
    return [line.replace("\t", "|") for line in out.splitlines()]


def parquet_rows(folder: Path) -> list[str]:
    import pyarrow.parquet as pq

    table = pq.read_table(folder).sort_by("id")
    return [f"{r['id']}|{r['v']}|{r['amount']}|{r['ts']:%Y-%m-%d %H:%M:%S.%f}"
            for r in table.to_pylist()]


def replication_tables(folder: Path) -> tuple[Path, tuple[str, str]]:
    """A replication file moving two new PostgreSQL tables into MariaDB, and their names."""
    from faults.conftest import pg_table, unique

    tables = (unique("cl_run_a"), unique("cl_run_b"))
    for table in tables:
        pg_table(table, COLUMNS, VALUES)
    spec = folder / "replication.yml"
    spec.write_text("source: pg\ntarget: maria\nstreams:\n"
                    + "".join(f"  public.{t}:\n" for t in tables))
    return spec, tables


# the real `dvt` CLI with jars from a real `dvt sync` and known secrets in its configuration
from faults.conftest import cli, s3  # noqa: E402,F401
