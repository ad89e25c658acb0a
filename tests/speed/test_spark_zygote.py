"""The zygote of a local master's Python daemon (:mod:`dvt_connect.spark_zygote`): started before
the JVM with the workers' modules imported (pyarrow too, with no thread), it forks the daemon the
JVM's daemon module asks for; a request it was not started for is declined and the daemon module
starts its own daemon as before."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.spark import cache_dir
from dvt_connect.spark_daemon import PRELOAD_ENV
from dvt_connect.spark_home import driver_home, package_home
from dvt_connect.spark_zygote import ADDRESS_ENV, Zygote, enabled, refusal, start

pytestmark = pytest.mark.skipif(not enabled(), reason="the zygote is Linux's (abstract sockets)")

PRELOAD = "pyspark.worker,dvt_connect.connectors.arrow_bulk.tasks"
MODULES = ["pyspark.worker", "dvt_connect.connectors.arrow_bulk.tasks", "pyarrow",
           "pyarrow.parquet"]
SECRET = "dvt-test-worker-secret"


def _home() -> str:
    return str(driver_home(cache_dir()) or package_home())


def _jvm_env(address: str, **changes: str) -> dict[str, str]:
    """What Spark's JVM gives the daemon module it starts (PythonWorkerFactory), as a transfer's
    session has it."""
    home = _home()
    lib = os.path.join(home, "python", "lib")
    zips = [os.path.join(lib, n) for n in sorted(os.listdir(lib)) if n.endswith(".zip")]
    core = next(str(j) for j in sorted(Path(home, "jars").glob("spark-core_*.jar")))
    env = {**os.environ, "SPARK_HOME": home, PRELOAD_ENV: PRELOAD, "PYTHONHASHSEED": "0",
           "PYTHONUNBUFFERED": "YES", "PYTHON_WORKER_FACTORY_SECRET": SECRET,
           "PYTHONPATH": os.pathsep.join([*zips, core]), ADDRESS_ENV: address}
    env.update(changes)
    return env


def _listening(started: Zygote) -> Zygote:
    """``started`` once it listens (its abstract socket in ``/proc/net/unix``): a daemon module
    asking before then is refused, as one asking a zygote that has gone."""
    deadline = time.monotonic() + 30
    while f"@{started.address}" not in Path("/proc/net/unix").read_text():
        assert time.monotonic() < deadline, "the zygote did not listen within 30 s"
        time.sleep(0.02)
    return started


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    started = start(MODULES, {PRELOAD_ENV: PRELOAD})
    assert started is not None
    yield _listening(started)
    started.close()
    assert started.process.returncode == 0  # it ends when its standard input closes


def _daemon_module(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start the daemon module as the JVM does; it and the port its daemon listens on."""
    stub = subprocess.Popen([sys.executable, "-m", "dvt_connect.spark_daemon", "pyspark.worker"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert stub.stdout is not None
    port = struct.unpack("!i", stub.stdout.read(4))[0]
    return stub, port


def _worker(port: int) -> tuple[socket.socket, int]:
    """Ask the daemon for a worker as the JVM does: its pid, once it has taken the secret."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    pid = struct.unpack("!i", sock.recv(4, socket.MSG_WAITALL))[0]
    sock.sendall(struct.pack("!i", len(SECRET)) + SECRET.encode())
    size = struct.unpack("!i", sock.recv(4, socket.MSG_WAITALL))[0]
    assert sock.recv(size, socket.MSG_WAITALL) == b"ok"
    return sock, pid


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


# what the Spark-session probes below call ``parent(pid)``: :func:`_parent`, in their source;
# and ``cmdline(pid)``. A process that ends while a probe scans /proc has no parent (-1) and an
# empty command line (a scan once failed on a cmdline gone between listing and reading).
_PARENT = ("def parent(pid):\n"
           "    try:\n"
           "        stat = open(f'/proc/{pid}/stat').read()\n"
           "    except (FileNotFoundError, ProcessLookupError):\n"
           "        return -1\n"
           "    return int(stat.rsplit(')', 1)[1].split()[1])\n"
           "def cmdline(pid):\n"
           "    try:\n"
           "        return open(f'/proc/{pid}/cmdline', 'rb').read()\n"
           "    except (FileNotFoundError, ProcessLookupError):\n"
           "        return b''\n")


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or " Z " in Path(f"/proc/{pid}/stat").read_text():
            return True
        time.sleep(0.05)
    return False


def test_the_daemon_is_forked_by_the_zygote_with_pyarrow_loaded_and_ends_with_its_module(
        zygote: Zygote) -> None:
    stub, port = _daemon_module(_jvm_env(zygote.address))
    try:
        sock, worker = _worker(port)
        daemon = _parent(worker)
        assert daemon != stub.pid and _parent(daemon) == zygote.process.pid
        # the worker found pyarrow's library loaded: the zygote imported it, with no thread
        assert "libarrow.so" in Path(f"/proc/{worker}/maps").read_text()
        assert len(os.listdir(f"/proc/{daemon}/task")) == 1
        # (it runs in the JVM's environment: the worker took the secret given there)
        sock.close()
        # the JVM stops its daemon with SIGTERM to the process it started
        stub.send_signal(signal.SIGTERM)
        assert stub.wait(timeout=30) == 0
        assert _gone(daemon, within=30) and _gone(worker, within=30)
    finally:
        stub.kill()
        stub.wait()


def test_the_daemon_ends_when_the_jvm_closes_its_input(zygote: Zygote) -> None:
    stub, port = _daemon_module(_jvm_env(zygote.address))
    try:
        sock, worker = _worker(port)
        daemon = _parent(worker)
        assert stub.stdin is not None
        stub.stdin.close()  # as when the JVM exits
        assert _gone(daemon, within=30)
        assert stub.wait(timeout=30) == 0
        sock.close()
    finally:
        stub.kill()
        stub.wait()


@pytest.mark.parametrize("changes, why", [
    ({"PYTHONHASHSEED": "7"}, "PYTHONHASHSEED differs"),
    ({PRELOAD_ENV: "pyspark.worker"}, f"{PRELOAD_ENV} differs"),
    ({"PYTHONPATH": "/somewhere/else"}, "the module path has /somewhere/else"),
])
def test_a_request_the_zygote_was_not_started_for_is_declined_and_the_daemon_starts_here(
        zygote: Zygote, changes: dict[str, str], why: str) -> None:
    stub, port = _daemon_module(_jvm_env(zygote.address, **changes))
    try:
        sock, worker = _worker(port)
        assert _parent(worker) == stub.pid  # the daemon module became the daemon, as before
        sock.close()
    finally:
        stub.kill()
        stub.wait()
        assert stub.stderr is not None
        assert f"zygote declined ({why})" in stub.stderr.read().decode()


def test_without_a_zygote_the_daemon_module_starts_its_daemon() -> None:
    stub, port = _daemon_module(_jvm_env("dvt-zygote-nobody-listens"))
    try:
        sock, worker = _worker(port)
        assert _parent(worker) == stub.pid
        sock.close()
    finally:
        stub.kill()
        stub.wait()
        assert stub.stderr is not None
        assert "zygote did not answer" in stub.stderr.read().decode()


def test_what_the_jvm_puts_on_the_path_is_accepted_and_nothing_else() -> None:
    env = _jvm_env("x")
    started = {**env}
    request = {"env": env, "argv": ["-m", "pyspark.worker"], "cwd": "/"}
    assert refusal(request, started, sys.path) is None
    assert refusal({**request, "env": {**env, "PYTHONPATH": env["PYTHONPATH"] + ":/tmp/x.jar"}},
                   started, sys.path) == "the module path has /tmp/x.jar"
    assert refusal({**request, "cwd": 1}, started, sys.path) == "a malformed request"
    assert refusal({**request, "env": {**env, "PYTHONOPTIMIZE": "2"}}, started,
                   sys.path) == "PYTHONOPTIMIZE differs"


@pytest.mark.spark
def test_a_transfer_sessions_workers_come_from_its_zygote(
        run_probe: Callable[..., Any]) -> None:
    """A session started as a transfer's is (warm workers, local master) forks its Python
    daemon from its zygote: the workers its tasks run in descend from it."""
    probe = (
        "import json, os\n"
        "from dvt_connect import spark\n"
        "spec = spark.session_spec(master='local[2]', worker_modules=['pyarrow'],\n"
        "                          warm_workers=True)\n"
        "session = spark.get_session(spec)\n"
        "def grandparent(_):\n"
        "    import os\n"
        "    yield parent(os.getppid())\n"
        "print(json.dumps([spark._zygote.process.pid,\n"
        "                  session.sparkContext.parallelize([0, 1], 2)"
        ".mapPartitions(grandparent).collect(), 'DVT_ZYGOTE_ADDRESS' in os.environ]))\n"
        "spark.stop_session()\n"
    )
    zygote, grandparents, leaked = run_probe(_PARENT + probe)
    assert set(grandparents) == {zygote}  # each worker's daemon's parent
    assert not leaked  # the address went to the JVM only


def test_a_jvm_that_does_not_start_takes_its_zygote_along(
        run_probe: Callable[..., Any]) -> None:
    probe = (
        "import json, os\n"
        "from pathlib import Path\n"
        "from dvt_connect import spark\n"
        "from dvt_connect.errors import DvtError\n"
        "spec = spark.session_spec(master='local[2]', worker_modules=['pyarrow'],\n"
        "                          warm_workers=True, conf={'spark.driver.memory': 'lots'})\n"
        "try:\n"
        "    spark.get_session(spec)\n"
        "except DvtError as exc:\n"
        "    failed = str(exc)\n"
        "mine = [p.name for p in Path('/proc').iterdir() if p.name.isdigit()\n"
        "        and b'spark_zygote' in cmdline(p.name)\n"
        "        and parent(int(p.name)) == os.getpid()]\n"
        "print(json.dumps([failed, spark._zygote is None, mine]))\n"
    )
    failed, forgotten, running = run_probe(_PARENT + probe)
    assert failed.startswith("Spark could not start")
    assert forgotten and running == []


def test_a_zygote_whose_imports_start_a_thread_serves_nobody(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module that starts a thread on import leaves the zygote unable to fork: it ends, and a
    daemon module already waiting for it starts its daemon itself."""
    (tmp_path / "dvt_test_spinner.py").write_text(
        "import threading, time\n"
        "time.sleep(2)  # long enough for the daemon module to be waiting\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    started = start(["pyspark.worker", "dvt_test_spinner"], {PRELOAD_ENV: PRELOAD})
    assert started is not None
    _listening(started)  # and importing
    stub, port = _daemon_module(_jvm_env(started.address))
    try:
        sock, worker = _worker(port)
        assert _parent(worker) == stub.pid
        sock.close()
        assert started.process.wait(timeout=60) == 1
    finally:
        stub.kill()
        stub.wait()
        started.close()
        assert stub.stderr is not None
        assert "zygote did not answer" in stub.stderr.read().decode()
