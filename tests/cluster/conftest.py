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
               PYSPARK_PYTHON=sys.executable)
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


# the real `dvt` CLI with jars from a real `dvt sync` and known secrets in its configuration
from faults.conftest import cli  # noqa: E402,F401
