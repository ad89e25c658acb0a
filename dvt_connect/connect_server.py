"""The warm local engine: a Spark Connect server on loopback, started from the installed PySpark.

``dvt server start`` launches ``python -m dvt_connect.connect_server`` (:func:`serve`): a PySpark
driver with the synced jars that starts Spark's Connect service in its own JVM. It waits until
the port answers and records the PID and port in ``$DVT_HOME/server.json``; ``stop`` ends
exactly that PID (after checking it is still that server); ``--master local-server`` (or
``sc://localhost:PORT``) connects to it.

Why not Spark's own ``SparkConnectServer`` main: it forces artifact isolation on every client
session, so each session's Python UDFs get their own Python daemon and workers (their
environment carries the session's artifact UUID). Every `dvt` command is a new session: it
waited for fresh Python workers (about 1 s of its time: the tasks import pyarrow and the
drivers again), and the server kept each command's workers until it stopped (about 400 MiB per
command here). Our clients on loopback add no artifacts (the server imports dvt-connect from
the same environment), so our server turns isolation off and every session's tasks share one
set of warm workers.

``--master local-server`` attaches to the server's JVM instead (:mod:`dvt_connect.attach`): the
server also listens on a Unix socket only its user can open (:func:`attach_socket`); each
connection gets a py4j gateway of its own into the server's JVM, on loopback with a new token,
and keeps it until the connection closes (the client's process ends), when the gateway and
every object the client made through it are released. The client then runs as on a classic local
master, in a new Spark session of the server's context: its planning's JDBC statements run in the
warm JVM with the synced drivers, and it imports neither the Connect client nor starts a JVM of
its own. ``sc://`` URLs, to this server too, stay Spark Connect.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dvt_connect.errors import DvtError, UsageError
from dvt_connect.paths import dvt_home
from dvt_connect.warm_up import KEEP_WARM

SERVER_MODULE = "dvt_connect.connect_server"
# a server an earlier dvt-connect started with Spark's own main: still ours to show and stop
SPARK_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
LOCAL_SERVER = "local-server"
HOST = "127.0.0.1"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
ATTACH_TIMEOUT = 30.0
# a Unix socket's path must fit in sockaddr_un (108 bytes on Linux, 104 on macOS)
_SOCKET_PATH_MAX = 100


@dataclass(frozen=True)
class ServerState:
    pid: int
    port: int
    started: float
    jars: tuple[str, ...] = ()
    log: str = ""
    socket: str = ""  # where clients attach (:func:`attach_socket`); "" for an older server
    keep_warm: float = 0.0  # seconds between the idle server's Python workers steps; 0: never

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
                            log=str(raw.get("log", "")), socket=str(raw.get("socket", "")),
                            keep_warm=float(raw.get("keep_warm", 0.0)))
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
    return SERVER_MODULE.encode() in cmdline or SPARK_SERVER_CLASS.encode() in cmdline


def python_workers(pid: int) -> int | None:
    """How many PySpark Python processes (the daemon and its workers) run under the server
    ``pid``; None where there is no ``/proc``. Every client session's tasks share them (see the
    module's docstring), so the count stays at one daemon and its idle workers."""
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
            # `-m pyspark.daemon pyspark.worker`, or our daemon module and the same argument
            if b"\0pyspark.worker" in (stat.parent / "cmdline").read_bytes():
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


def attach_socket() -> Path:
    """The Unix socket clients attach through: ``$DVT_HOME/server.sock``, or, when that path is
    too long for a socket address, one named by a hash of it in ``dvt-<uid>`` under the
    temporary folder (a folder only this user can enter)."""
    path = dvt_home() / "server.sock"
    if len(str(path).encode()) <= _SOCKET_PATH_MAX:
        return path
    folder = Path(tempfile.gettempdir()) / f"dvt-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise DvtError(f"{folder} is not this user's alone (owner {info.st_uid}, mode "
                       f"{info.st_mode & 0o777:o}): the local server's socket cannot go there.",
                       hint="Remove that folder, or use a shorter DVT_HOME.")
    short = folder / f"{hashlib.sha256(str(path).encode()).hexdigest()[:16]}.sock"
    if len(str(short).encode()) > _SOCKET_PATH_MAX:
        raise DvtError(f"neither {path} nor {short} fits in a Unix socket's address "
                       f"({_SOCKET_PATH_MAX} bytes): the local server has no socket to listen on.",
                       hint="Use a shorter DVT_HOME, or set TMPDIR to a short folder such as /tmp.")
    return short


def job_group_line(group: str, running: bool) -> bytes:
    """What an attached client sends when one of its job groups starts or ends."""
    return json.dumps({"job_group": group, "running": running}).encode() + b"\n"


def _track_job_group(running: set[str], line: bytes) -> None:
    try:
        doc = json.loads(line)
        group, started = str(doc["job_group"]), bool(doc["running"])
    except (ValueError, KeyError, TypeError):
        return  # not ours to act on
    if started:
        running.add(group)
    else:
        running.discard(group)


class AttachService:
    """The server's side of attaching (module doc): a thread accepting on the socket, and per
    connection a py4j gateway into this JVM that lives as long as the connection.

    The connection also carries the client's running job groups, one JSON line each
    (:func:`job_group_line`): a client that ends without finishing them (killed, crashed) gets
    them cancelled, so the server's cores and the databases' sessions do not go on working for
    nobody. A client that ends normally has none left open."""

    def __init__(self, jvm: Any, path: Path) -> None:
        self.jvm = jvm
        self.path = path
        path.unlink(missing_ok=True)  # a killed server's
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        mask = os.umask(0o177)  # created private: no moment when another user could connect
        try:
            self.listener.bind(str(path))
        finally:
            os.umask(mask)
        os.chmod(path, 0o600)
        self.listener.listen(16)
        threading.Thread(target=self._accept, name="dvt-attach", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed: the server stops
                return
            threading.Thread(target=self._serve, args=(conn,), name="dvt-attached",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        token = secrets.token_hex(32)
        gateway = None
        running: set[str] = set()
        try:
            # a py4j ClientServer, as PySpark's own (pinned threads): each client thread keeps
            # one JVM thread, so its thread-local state (active session, job group) holds
            gateway = (self.jvm.py4j.ClientServer.ClientServerBuilder()
                       .javaPort(0).javaAddress(self.jvm.java.net.InetAddress.getLoopbackAddress())
                       .authToken(token).autoStartJavaServer(False).build())
            gateway.startServer()
            port = gateway.getJavaServer().getListeningPort()
            conn.sendall(json.dumps({"port": port, "token": token}).encode() + b"\n")
            for line in conn.makefile("rb"):  # until the client's process ends
                _track_job_group(running, line)
        except Exception as exc:  # noqa: BLE001 - one client's failure must not stop the server
            print(f"dvt-connect: an attached client failed: {type(exc).__name__}", flush=True)
        finally:
            if running:
                self._cancel(running)
            if gateway is not None:
                with contextlib.suppress(Exception):  # the JVM may be stopping
                    gateway.shutdown()
            conn.close()

    def _cancel(self, groups: Iterable[str]) -> None:
        context = self.jvm.org.apache.spark.SparkContext.getOrCreate()
        for group in sorted(groups):
            with contextlib.suppress(Exception):  # the JVM may be stopping
                context.cancelJobGroupAndFutureJobs(
                    group, "the attached dvt command that ran it ended")
                print(f"dvt-connect: an attached client ended while its job group {group} ran: "
                      "cancelled", flush=True)

    def close(self) -> None:
        self.listener.close()
        self.path.unlink(missing_ok=True)


def attach(state: ServerState) -> tuple[socket.socket, int, str]:
    """Connect to the server's attach socket: the open connection (keep it open as long as the
    gateway is used) and the gateway's port and token."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(ATTACH_TIMEOUT)
    try:
        conn.connect(state.socket)
        line = conn.makefile("rb").readline()
        doc = json.loads(line)
        conn.settimeout(None)
        return conn, int(doc["port"]), str(doc["token"])
    except (OSError, ValueError, KeyError) as exc:
        conn.close()
        raise DvtError(f"could not attach to the local server (PID {state.pid}) through "
                       f"{state.socket} ({type(exc).__name__}: {exc}).",
                       hint=f"See {state.log}; `dvt server stop` then `dvt server start` "
                            "restarts it.") from None


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
    """The server's Spark home: the one a driver dvt starts gets (without Spark ML,
    :mod:`dvt_connect.spark_home`), the installed package's when ``SPARK_HOME`` names another
    Spark."""
    from dvt_connect.spark import cache_dir
    from dvt_connect.spark_home import driver_home, package_home

    return driver_home(cache_dir()) or package_home()


def server_conf(port: int, jars: Iterable[str]) -> dict[str, str]:
    """The server's Spark settings: loopback only, our jars, UI off, one set of Python workers
    for every client session. Nothing secret goes here (it reaches the JVM's command line)."""
    from dvt_connect.spark import session_spec
    from dvt_connect.warm_up import worker_modules

    # its Python workers are forked with the Arrow route's modules of every database imported
    spec = session_spec(jars=list(jars), worker_modules=worker_modules())
    return {**spec.all_conf(),
            "spark.app.name": "dvt-connect server",
            "spark.connect.grpc.binding.address": HOST,
            "spark.connect.grpc.binding.port": str(port),
            "spark.master": "local[*]",
            # `dvt run` streams share the server: each job gets a fair share of its cores
            "spark.scheduler.mode": "FAIR",
            # the sessions Connect makes are new sessions of this driver's: they inherit these
            # two (Spark's own server main turns isolation on, and so on the classloader)
            "spark.sql.artifact.isolation.enabled": "false",
            "spark.sql.artifact.isolation.alwaysApplyClassloader": "true"}


def server_command(port: int, jars: Iterable[str], socket_path: Path,
                   keep_warm: float = 0.0) -> list[str]:
    """The launch command: this module's :func:`serve` with its port, jars, attach socket
    (paths only) and keep-warm period."""
    import sys

    return [sys.executable, "-m", SERVER_MODULE, "--port", str(port),
            "--socket", str(socket_path), "--keep-warm", f"{keep_warm:g}",
            *(arg for jar in jars for arg in ("--jar", jar))]


def serve(port: int, jars: Iterable[str], socket_path: Path, keep_warm: float = 0.0) -> None:
    """Run the server until SIGTERM or SIGINT: a PySpark driver whose JVM (a child of this
    process, which ends with it) runs Spark's Connect service, and the attach socket at
    ``socket_path``; stopped gracefully. ``keep_warm``: seconds between runs of the Python
    workers step while idle (:class:`dvt_connect.warm_up.KeepWarm`); 0 runs it only once."""
    import threading

    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    settings = server_conf(port, jars)
    # the executor environment (the Arrow allocator) reaches Connect sessions' Python workers
    # only through the JVM's own: Spark Connect passes its UDFs none of spark.executorEnv.*
    for key, value in settings.items():
        if key.startswith("spark.executorEnv."):
            os.environ[key[len("spark.executorEnv."):]] = value
    conf = SparkConf(loadDefaults=False).setAll(list(settings.items()))
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    context: Any = spark.sparkContext
    # before anything answers: the first client's transfer finds this code loaded and compiled
    from dvt_connect.warm_up import KeepWarm, warm_up

    started = time.perf_counter()
    steps = warm_up(spark)
    print(f"dvt-connect: warmed up in {time.perf_counter() - started:.1f} s ("
          + ", ".join(f"{name} {outcome}" for name, outcome in steps.items()) + ")", flush=True)
    # before the Connect port answers (what `start` waits for): a client may attach at once
    attached = AttachService(context._jvm, socket_path)
    service = context._jvm.org.apache.spark.sql.connect.service.SparkConnectService
    service.start(context._jsc.sc())
    print(f"dvt-connect: Spark Connect server listening on {HOST}:{port}", flush=True)
    if keep_warm > 0:
        KeepWarm(spark, keep_warm, stopping, log=lambda line: print(line, flush=True))
    jvm = context._gateway.proc
    try:
        while not stopping.wait(1.0):
            if jvm is not None and jvm.poll() is not None:  # the JVM died: nothing to serve
                raise SystemExit(f"the server's JVM exited with code {jvm.returncode}")
    finally:
        attached.close()
        _stop_service(service)
        spark.stop()


def _stop_service(service: Any) -> None:
    """``SparkConnectService.stop``: Spark 4 declares ``stop(timeout, unit)`` with Scala
    defaults, which py4j does not see (``stop()`` raised, and Spark was never stopped, only
    killed with this process); an older one has ``stop()``."""
    try:
        defaults = (getattr(service, "stop$default$1")(), getattr(service, "stop$default$2")())
    except Exception:  # noqa: BLE001 - py4j's error for a method this Spark lacks
        service.stop()
        return
    service.stop(*defaults)


def start(jars: Iterable[str], *, port: int | None = None, timeout: float = START_TIMEOUT,
          keep_warm: float = KEEP_WARM) -> ServerState:
    """Start the server unless one runs; return it once its port answers. ``keep_warm``: see
    :func:`serve`."""
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
    sock = attach_socket()
    with open(log, "ab") as out:
        process = subprocess.Popen(server_command(port, jars, sock, keep_warm),
                                   stdout=out, stderr=out,
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
                        log=str(log), socket=str(sock), keep_warm=keep_warm)
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


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {SERVER_MODULE}",
                                     description="The server `dvt server start` runs.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--jar", action="append", default=[])
    parser.add_argument("--keep-warm", type=float, default=0.0)
    args = parser.parse_args(argv)
    serve(args.port, args.jar, args.socket, args.keep_warm)


if __name__ == "__main__":
    main()
