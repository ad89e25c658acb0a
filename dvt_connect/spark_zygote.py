"""A zygote for a local master's Python daemon: started by the driver before the JVM, with
PySpark's worker, the Arrow route's task code and its packages imported, it forks the daemon the
JVM asks for, so that the first Python workers are ready about when the JVM asks for them.

Without it, the JVM starts the daemon (:mod:`dvt_connect.spark_daemon`) when its first Python
task runs, after the SparkContext and the first job's scheduling; the daemon's interpreter then
imports PySpark and the preloaded modules, and each worker it forks imports pyarrow (which the
daemon cannot, as pyarrow starts threads). Measured on a 1M-row PostgreSQL -> Parquet transfer:
the driver had planned and waited 1.4-2.5 s more for its workers.

How: :func:`start` runs ``python -m dvt_connect.spark_zygote`` (the same interpreter, in a
session of its own) while the JVM starts, and gives the JVM the zygote's address in
:data:`ADDRESS_ENV`. The zygote imports what the session's workers import; pyarrow with its
allocator's background thread and OpenBLAS's pool turned off (``JE_ARROW_MALLOC_CONF``,
``OPENBLAS_NUM_THREADS``: no thread starts, so that it may fork). When the JVM starts its daemon
module, that module (:func:`dvt_connect.spark_daemon.main`) hands its environment, working folder,
arguments and standard streams to the zygote over a Unix socket (:func:`hand_over`). The zygote
forks; the child takes the JVM's streams and environment and runs PySpark's own daemon
(``pyspark.daemon.manager``). The module the JVM started stays as the daemon's stand-in: it ends
when the daemon ends and passes it the JVM's SIGTERM.

The zygote serves only what it was started for, else the daemon module starts its own daemon as
before: a request whose environment differs in what an interpreter or an import reads (the
``PYTHON*`` variables, the preload list), whose path names a folder the zygote's has not, or that
comes from another user. It ends when the driver does (its standard input closes). Linux only
(abstract sockets, ``SCM_RIGHTS``); ``DVT_ZYGOTE=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import sys
from collections.abc import Iterable, Mapping
from typing import Any

MODULE = "dvt_connect.spark_zygote"
ADDRESS_ENV = "DVT_ZYGOTE_ADDRESS"
SWITCH_ENV = "DVT_ZYGOTE"
# what an interpreter reads when it starts, or a preloaded module when it is imported: a request
# must have what the zygote was started with
_STARTUP_ENV = ("PYTHONHASHSEED", "PYTHONOPTIMIZE", "PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE",
                "PYTHONUSERBASE", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONWARNINGS", "PYTHONDEVMODE",
                "PYTHONUTF8", "PYTHONIOENCODING", "PYTHONMALLOC", "PYTHONPLATLIBDIR",
                "PYTHONPYCACHEPREFIX", "PYTHONINTMAXSTRDIGITS", "PYTHONUNBUFFERED",
                "PYSPARK_ENABLE_NAMEDTUPLE_PATCH", "SPARK_TESTING")
# set for the zygote (unless set already) so that pyarrow and numpy start no thread when imported
_NO_THREADS = {"JE_ARROW_MALLOC_CONF": "background_thread:false", "OPENBLAS_NUM_THREADS": "1"}
_HEADER = struct.Struct("!I")
_WAIT = 60.0  # seconds a daemon module waits for the zygote's answer before starting its own


def enabled() -> bool:
    return sys.platform == "linux" and os.environ.get(SWITCH_ENV, "1") != "0" \
        and "SPARK_TESTING" not in os.environ and hasattr(socket, "send_fds")


class Zygote:
    """The driver's handle on its zygote: the process, and the address the JVM is given."""

    def __init__(self, process: Any, address: str) -> None:
        self.process = process
        self.address = address

    def close(self) -> None:
        """End the zygote (daemons it forked go on: the JVM ends them)."""
        import subprocess

        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:  # still importing: what it holds dies with it
            self.process.kill()
            self.process.wait()


def start(preload: Iterable[str], executor_env: Mapping[str, str]) -> Zygote | None:
    """Start a zygote importing ``preload`` in the environment the JVM gives its Python daemon
    (this process's, ``executor_env`` and PySpark's hash seed); None where :func:`enabled` says
    no or it cannot start."""
    import secrets
    import subprocess

    if not enabled():
        return None
    address = f"dvt-zygote-{os.getpid()}-{secrets.token_hex(8)}"
    env = {**os.environ, **executor_env,
           "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"), "PYTHONUNBUFFERED": "YES"}
    for key, value in _NO_THREADS.items():
        env.setdefault(key, value)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", MODULE, address, ",".join(preload)], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
    except OSError:
        return None
    return Zygote(process, address)


# --- the daemon module's side -------------------------------------------------------------


def hand_over(address: str) -> None:
    """Have the zygote at ``address`` start PySpark's daemon on this process's standard streams,
    environment and arguments, then stand in for it until it ends (this process then exits, passing
    it SIGTERM meanwhile); returns if the zygote cannot (absent, or refusing the request)."""
    import signal

    daemon: list[int] = []
    stopping: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        for pid in daemon:
            _kill(pid, signum)

    previous = signal.signal(signal.SIGTERM, forward)
    pid = _ask(address)
    if pid is None:
        signal.signal(signal.SIGTERM, previous)
        if stopping:
            raise SystemExit(1)
        return
    daemon.append(pid)
    if stopping:
        _kill(pid, signal.SIGTERM)
    _wait_for(pid)
    os._exit(0)


def _ask(address: str) -> int | None:
    request = json.dumps({"env": {k: v for k, v in os.environ.items() if k != ADDRESS_ENV},
                          "argv": sys.argv, "cwd": os.getcwd()}).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(_WAIT)
            sock.connect("\0" + address)
            socket.send_fds(sock, [_HEADER.pack(len(request))], [0, 1, 2])
            sock.sendall(request)
            answer = _read(sock, 5)
            if answer is None:
                raise ConnectionError("it closed the connection")
            value = int(struct.unpack("!I", answer[1:])[0])
            if answer[:1] == b"Y":
                return value
            # the JVM writes the daemon's stderr to its log
            reason = (_read(sock, value) or b"").decode(errors="replace")
            print(f"dvt: the Python daemon's zygote declined ({reason}); starting it here",
                  file=sys.stderr)
    except OSError as exc:
        print(f"dvt: the Python daemon's zygote did not answer ({exc}); starting it here",
              file=sys.stderr)
    return None


def _read(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(OSError):  # already gone
        os.kill(pid, signum)


def _wait_for(pid: int) -> None:
    """Until process ``pid`` (not a child of this one) has ended."""
    import select
    import time

    try:
        handle = os.pidfd_open(pid)
    except (OSError, AttributeError):
        handle = None
    while True:
        if handle is not None:
            try:
                if select.select([handle], [], [], 1.0)[0]:
                    return
            except InterruptedError:
                continue
        else:
            time.sleep(0.2)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            continue


# --- the zygote -----------------------------------------------------------------------------


def preload(modules: Iterable[str]) -> bool:
    """Import ``modules``, those that start no thread on import first; whether this process still
    runs one thread (False: it may not fork)."""
    from dvt_connect.spark_daemon import preload as import_threadless
    from dvt_connect.spark_daemon import split_threaded

    plain, threaded = split_threaded(modules)
    return import_threadless(plain) and import_threadless(threaded)


def refusal(request: Mapping[str, Any], started: Mapping[str, str],
            path: Iterable[str]) -> str | None:
    """Why a daemon module's ``request`` cannot be served by a zygote started in ``started`` with
    ``path`` as its module path; None if it can."""
    from dvt_connect.spark_daemon import PRELOAD_ENV, installed_package_zips
    from dvt_connect.spark_home import package_of

    env = request.get("env")
    if not isinstance(env, dict) or not isinstance(request.get("argv"), list) \
            or not isinstance(request.get("cwd"), str):
        return "a malformed request"
    for key in (*_STARTUP_ENV, PRELOAD_ENV):
        if env.get(key) != started.get(key):
            return f"{key} differs"
    # what the daemon module would leave on its path (:mod:`dvt_connect.spark_daemon`): not the
    # installed package's zips, nor Spark's jars (Spark names its core jar), which hold no module
    home = str(env.get("SPARK_HOME", ""))
    package = package_of(home) if home else None
    skipped = installed_package_zips(home) if home else set()
    have = {os.path.realpath(p) for p in path if p}
    for entry in str(env.get("PYTHONPATH", "")).split(os.pathsep):
        where = os.path.realpath(entry) if entry else ""
        if not where or where in skipped or where in have or (
                package is not None and os.path.dirname(where) == str(package / "jars")
                and where.endswith(".jar")):
            continue
        return f"the module path has {entry}"
    return None


def serve(address: str, modules: list[str]) -> int:
    """The zygote: listen at ``address``, import ``modules``, then fork a daemon per request
    until standard input closes."""
    import select
    import signal

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + address)
    listener.listen(8)
    started = dict(os.environ)
    if not preload(modules):
        return 1  # a thread runs here: daemon modules that ask get no answer and start their own
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the daemons it forks are reaped
    while True:
        ready = select.select([listener, sys.stdin], [], [])[0]
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 512):
            return 0  # the driver has ended
        if listener in ready:
            connection, _ = listener.accept()
            with connection:
                _serve_one(connection, started, listener)


def _serve_one(connection: socket.socket, started: Mapping[str, str],
               listener: socket.socket) -> None:
    connection.settimeout(10)
    fds: list[int] = []
    try:
        _pid, uid, _gid = struct.unpack("3i", connection.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        header, fds, _flags, _address = socket.recv_fds(connection, _HEADER.size, 3)
        body = _read(connection, _HEADER.unpack(header)[0]) if len(header) == _HEADER.size \
            else None
        request = json.loads(body) if body is not None else {}
        why = "another user" if uid != os.getuid() else \
            "no standard streams" if len(fds) != 3 else refusal(request, started, sys.path)
    except (OSError, ValueError, struct.error):
        why = "a broken request"
    pid = -1
    if why is None:
        try:
            pid = os.fork()
        except OSError as exc:
            why = f"fork failed: {exc}"
    if pid == 0:
        _become_daemon(connection, listener, fds, request)
    for fd in fds:
        os.close(fd)
    if why is not None:
        reason = why.encode()
        with contextlib.suppress(OSError):
            connection.sendall(b"N" + struct.pack("!I", len(reason)) + reason)


def _become_daemon(connection: socket.socket, listener: socket.socket, fds: list[int],
                   request: Mapping[str, Any]) -> None:
    """In the forked child: take the daemon module's streams, environment, folder and arguments,
    answer with this process's ID, and run PySpark's daemon; never returns."""
    import signal
    import traceback

    code = 1
    try:
        listener.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        connection.sendall(b"Y" + struct.pack("!I", os.getpid()))
        connection.close()
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv[:] = request["argv"]
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from pyspark import daemon

        daemon.manager()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the JVM reads the reason on the daemon's stderr
        traceback.print_exc()
    finally:
        os._exit(code)


def main(argv: list[str]) -> int:
    address, modules = argv[0], [m for m in argv[1].split(",") if m]
    return serve(address, modules)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
