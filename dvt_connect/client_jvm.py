"""A small JVM beside this process for the JDBC calls dvt makes itself when Spark runs behind Spark
Connect, whose client has no JVM: catalog and planning queries, the staged write's DDL and swap,
high-water marks. Only the synced driver jars are on its class path (no Spark), so it starts in
about a second or less; it starts on first use and ends with the process. The data itself moves in
the server's tasks, as on any master; this JVM only carries the small statements that Spark's
driver JVM carries on a classic master, with the same drivers, so both run one code path.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Iterable
from typing import Any

_lock = threading.Lock()
_gateway: Any = None
_jars: tuple[str, ...] = ()
_process: subprocess.Popen[bytes] | None = None


def gateway(jars: Iterable[str]) -> Any:
    """The process's client JVM (a py4j ``JavaGateway``) with ``jars`` on its class path."""
    global _gateway, _jars
    wanted = tuple(jars)
    with _lock:
        if _gateway is not None and set(wanted) <= set(_jars):
            return _gateway
        from py4j.java_gateway import GatewayParameters, JavaGateway

        from dvt_connect.spark import check_java

        if _gateway is not None:  # jars are fixed when a JVM starts: start one with all of them
            _shutdown()
            wanted = tuple(dict.fromkeys(_jars + wanted))
        java = check_java()
        port, token = _launch(wanted, java.path)
        _gateway = JavaGateway(gateway_parameters=GatewayParameters(
            port=port, auth_token=token, auto_convert=True))
        _jars = wanted
        return _gateway


def _launch(jars: tuple[str, ...], java: str, attempts: int = 2) -> tuple[int, str]:
    """Start the JVM and read its port and token; its stderr goes to
    ``$DVT_HOME/logs/client-jvm.log``. A JVM that exits before it answers is started once more,
    then one error naming that log.

    Its own session (``start_new_session``, done without a pre-exec hook, which is unsafe in a
    process with threads, as a Connect client's is): a Ctrl-C reaches dvt's handler, not a JDBC
    call half done. It exits when this process does (``--die-on-broken-pipe``: its stdin closes).
    The JVM renders JDBC timestamps through its default zone: UTC, as Spark's does. No secret is
    on this command line: passwords travel over the gateway's socket, which asks for the token
    the JVM prints to us, so no other local process can drive it."""
    from py4j.java_gateway import find_jar_path

    from dvt_connect.errors import DvtError
    from dvt_connect.paths import dvt_home

    global _process
    logs = dvt_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "client-jvm.log"
    command = [java, "-classpath", os.pathsep.join((find_jar_path(), *jars)),
               "-Duser.timezone=UTC", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1", "-Xss4m",
               "py4j.GatewayServer", "--die-on-broken-pipe", "--enable-auth", "0"]
    problem = ""
    for _ in range(attempts):
        with open(log, "ab") as err:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=err, start_new_session=True)
        assert process.stdout is not None
        try:
            port = int(process.stdout.readline())
            token = process.stdout.readline().decode().rstrip("\r\n")
        except ValueError:  # it exited before printing its port
            problem = f"exit code {process.wait(timeout=30)}"
            continue
        # whatever else it prints must not fill the pipe and block it
        threading.Thread(target=process.stdout.read, daemon=True).start()
        _process = process
        return port, token
    raise DvtError(f"the client JVM for dvt's JDBC statements on Spark Connect did not start "
                   f"({problem}).", hint=f"See {log}; `dvt debug` checks Java.")


def stop() -> None:
    with _lock:
        _shutdown()


def _shutdown() -> None:
    global _gateway, _jars, _process
    if _gateway is not None:
        with contextlib.suppress(Exception):  # the JVM may be gone already
            _gateway.shutdown()
    if _process is not None:
        with contextlib.suppress(Exception):
            _process.stdin.close()  # type: ignore[union-attr]
            _process.wait(timeout=10)
    _gateway, _jars, _process = None, (), None
