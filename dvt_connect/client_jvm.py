"""A small JVM in this process for the JDBC calls dvt makes itself when Spark runs behind Spark
Connect, whose client has no JVM: catalog and planning queries, the staged write's DDL and swap,
high-water marks. Only the synced driver jars are on its class path (no Spark), so it starts in
well under a second; it starts on first use and ends with the process. The data itself moves in
the server's tasks, as on any master; this JVM only carries the small statements that Spark's
driver JVM carries on a classic master, with the same drivers, so both run one code path.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import Any

_lock = threading.Lock()
_gateway: Any = None
_jars: tuple[str, ...] = ()


def gateway(jars: Iterable[str]) -> Any:
    """The process's client JVM (a py4j ``JavaGateway``) with ``jars`` on its class path."""
    global _gateway, _jars
    wanted = tuple(jars)
    with _lock:
        if _gateway is not None and set(wanted) <= set(_jars):
            return _gateway
        from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway

        from dvt_connect.spark import check_java

        if _gateway is not None:  # jars are fixed when a JVM starts: start one with all of them
            _shutdown()
            wanted = tuple(dict.fromkeys(_jars + wanted))
        java = check_java()
        # the JVM renders JDBC timestamps through its default zone: UTC, as Spark's JVM runs;
        # no secret on this command line (passwords travel over the gateway's socket, which
        # asks for a token the JVM prints to us: no other local process can drive it); its own
        # process group, so a Ctrl-C reaches dvt's handler and not a JDBC call half done; it
        # exits when this process does (its stdin closes)
        port, token = launch_gateway(classpath=":".join(wanted), die_on_exit=True,
                                     java_path=java.path, enable_auth=True,
                                     create_new_process_group=True,
                                     javaopts=["-Duser.timezone=UTC", "-XX:-UsePerfData",
                                               "-XX:TieredStopAtLevel=1", "-Xss4m"])
        _gateway = JavaGateway(gateway_parameters=GatewayParameters(
            port=port, auth_token=token, auto_convert=True))
        _jars = wanted
        return _gateway


def stop() -> None:
    with _lock:
        _shutdown()


def _shutdown() -> None:
    global _gateway, _jars
    if _gateway is not None:
        with contextlib.suppress(Exception):  # the JVM may be gone already
            _gateway.shutdown()
    _gateway, _jars = None, ()
