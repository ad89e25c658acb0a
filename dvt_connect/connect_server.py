"""The warm local engine: a Spark Connect server on loopback, started from the installed PySpark.

``dvt server start`` launches ``spark-submit --class ...SparkConnectServer`` with the synced
jars, waits until its port answers and records its PID and port in ``$DVT_HOME/server.json``;
``stop`` ends exactly that PID (after checking it is still that server); ``--master
local-server`` (or ``sc://localhost:PORT``) connects to it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from dvt_connect.errors import DvtError, UsageError
from dvt_connect.paths import dvt_home

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
LOCAL_SERVER = "local-server"
HOST = "127.0.0.1"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class ServerState:
    pid: int
    port: int
    started: float
    jars: tuple[str, ...] = ()
    log: str = ""

    @property
    def url(self) -> str:
        return f"sc://localhost:{self.port}"


def state_file() -> Path:
    return dvt_home() / "server.json"


def read_state() -> ServerState | None:
    """The recorded server, if its process still runs and is that server; a stale record is
    removed."""
    path = state_file()
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        state = ServerState(pid=int(raw["pid"]), port=int(raw["port"]),
                            started=float(raw["started"]), jars=tuple(raw.get("jars", ())),
                            log=str(raw.get("log", "")))
    except (ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if not _is_server(state.pid):
        path.unlink(missing_ok=True)
        return None
    return state


def _is_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the record
    return SERVER_CLASS.encode() in cmdline


def python_workers(pid: int) -> int | None:
    """How many PySpark Python processes (daemons and their workers) run under the server
    ``pid``; None where there is no ``/proc``. Spark Connect starts a set per client session
    and keeps it until the server stops, so each `dvt` command through the server adds some."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    parents: dict[int, int] = {}
    python: set[int] = set()
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            child = int(stat.parent.name)
            parents[child] = int(fields[1])
            if b"pyspark" in (stat.parent / "cmdline").read_bytes():
                python.add(child)
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    count = 0
    for child in python:
        ancestor = parents.get(child)
        while ancestor is not None and ancestor not in (pid, 0, 1):
            ancestor = parents.get(ancestor)
        count += ancestor == pid
    return count


def connect_url(master: str) -> str:
    """The ``sc://`` URL a master names; ``local-server`` is the one `dvt server` runs."""
    if master != LOCAL_SERVER:
        return master
    state = read_state()
    if state is None:
        raise UsageError(f"the master is `{LOCAL_SERVER}`, but no local Spark Connect server "
                         "runs.", hint="Start one with `dvt server start`.")
    return state.url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def server_command(port: int, jars: Iterable[str]) -> list[str]:
    """The launch command: loopback only, our jars, UI off. Nothing secret goes here."""
    from dvt_connect.spark import session_spec

    spec = session_spec(jars=list(jars))
    conf = {**spec.all_conf(),
            "spark.connect.grpc.binding.address": HOST,
            "spark.connect.grpc.binding.port": str(port),
            "spark.master": "local[*]",
            # `dvt run` streams share the server: each job gets a fair share of its cores
            "spark.scheduler.mode": "FAIR"}
    cmd = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS,
           "--name", "dvt-connect server"]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    return [*cmd, "spark-internal"]


def start(jars: Iterable[str], *, port: int | None = None,
          timeout: float = START_TIMEOUT) -> ServerState:
    """Start the server unless one runs; return it once its port answers."""
    import sys

    from dvt_connect.spark import check_java

    running = read_state()
    if running is not None:
        return running
    check_java()
    port = port or free_port()
    jars = tuple(jars)
    logs = dvt_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "connect-server.log"
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "PYSPARK_PYTHON": sys.executable}
    with open(log, "ab") as out:
        process = subprocess.Popen(server_command(port, jars), stdout=out, stderr=out,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not _answers(port):
        if process.poll() is not None:
            raise DvtError(f"the Spark Connect server exited with code {process.returncode} "
                           "before it answered.", hint=f"See {log}.")
        if time.monotonic() > deadline:
            _end(process.pid)
            raise DvtError(f"the Spark Connect server did not answer on port {port} within "
                           f"{timeout:.0f} s.", hint=f"See {log}.")
        time.sleep(0.5)
    state = ServerState(pid=process.pid, port=port, started=time.time(), jars=jars,
                        log=str(log))
    state_file().parent.mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps(asdict(state)))
    return state


def stop() -> ServerState | None:
    """Stop the recorded server (that PID only); None when none runs."""
    state = read_state()
    if state is None:
        return None
    _end(state.pid)
    state_file().unlink(missing_ok=True)
    return state


def _end(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
            if waited == pid:
                return
        except ChildProcessError:  # not our child (started by another dvt process)
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
