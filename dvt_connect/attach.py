"""A classic PySpark session inside the warm local server's JVM (``--master local-server``).

The server hands each client a py4j gateway of its own (:class:`dvt_connect.connect_server.
AttachService`). Through it this process wraps the server's running ``SparkContext`` as PySpark
does for the JVM it launches, and works in a new Spark session of the server's root session
(its own SQL settings, temporary views and tags). Nothing is started: no JVM here, no Connect
client; the JDBC statements of planning run in the server's warm JVM, and the tasks in its warm
Python workers.

The context is shared with the server and every other attached client, so a client never stops
it: :func:`detach` (at the latest when the process exits) closes the gateway and the socket, and
the server releases what the client made; the job groups it still ran (a killed client's) are
cancelled (:func:`job_group`). What a client sets is kept to its session (the
profile's ``spark.conf``); nothing goes on the shared context's Hadoop configuration, as on
Spark Connect.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.connect_server import ServerState

# what PySpark's launch_gateway imports into a JVM view it drives (pyspark.java_gateway)
_IMPORTS = ("org.apache.spark.SparkConf", "org.apache.spark.api.java.*",
            "org.apache.spark.api.python.*", "org.apache.spark.ml.python.*",
            "org.apache.spark.mllib.api.python.*", "org.apache.spark.resource.*",
            "org.apache.spark.sql.Encoders", "org.apache.spark.sql.OnSuccessCall",
            "org.apache.spark.sql.functions", "org.apache.spark.sql.classic.*",
            "org.apache.spark.sql.api.python.*", "org.apache.spark.sql.hive.*", "scala.Tuple2")

_lock = threading.Lock()
_send_lock = threading.Lock()  # job group lines from several threads (dvt run's streams)
_attached: tuple[socket.socket, Any, SparkSession] | None = None
# PySpark's handles to a JVM this process launched before it attached (restored on detach)
_own_jvm: tuple[Any, Any] = (None, None)


def attach(state: ServerState) -> SparkSession:
    """A new session of the server's context, driven from this process."""
    global _attached, _own_jvm
    from py4j.clientserver import ClientServer, JavaParameters, PythonParameters
    from py4j.java_gateway import java_import
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from dvt_connect import connect_server, interrupts

    conn, port, token = connect_server.attach(state)
    # PySpark keeps one gateway per process, and would drive a JVM of our own if one ran
    _own_jvm = (SparkContext._gateway, SparkContext._jvm)
    _forget()
    try:
        gateway = ClientServer(
            java_parameters=JavaParameters(port=port, auth_token=token, auto_convert=True),
            python_parameters=PythonParameters(port=0, eager_load=False))
        for name in _IMPORTS:
            java_import(gateway.jvm, name)
        context = gateway.jvm.org.apache.spark.SparkContext.getOrCreate()
        jsc = gateway.jvm.JavaSparkContext.fromSparkContext(context)
        # PySpark's context sets a SIGINT handler that cancels every job of the context:
        # the server's and other clients' too; dvt's own handler stays
        with interrupts.keep_handlers():
            sc = SparkContext(master=context.master(), appName=context.appName(),
                              gateway=gateway, jsc=jsc)
        # the tasks run in the server's Python workers, which Spark keys by the interpreter's
        # path among others: name the server's, so they run in the set its warm-up started
        # (`python` and `python3` of one venv were two sets of workers)
        python = gateway.jvm.java.lang.System.getenv("PYSPARK_PYTHON")
        if python:
            sc.pythonExec = python
        jvm_sessions = SparkSession._get_j_spark_session_class(gateway.jvm)
        root = jvm_sessions.getDefaultSession().get()
        session = SparkSession(sc, root.newSession())
        # PySpark made ours the JVM's default session: the server's new sessions (Spark
        # Connect's) are made from the root one
        jvm_sessions.setDefaultSession(root)
    except BaseException:
        conn.close()
        _forget()
        _restore()
        raise
    with _lock:
        _attached = (conn, gateway, session)
    atexit.register(detach, exiting=True)  # a command never stops its session
    return session


def is_attached(spark: Any) -> bool:
    attached = _attached
    return attached is not None and attached[2] is spark


def job_group(spark: Any, group: str, running: bool) -> None:
    """Tell the server that a job group of ``spark`` (when attached) starts or ends: should this
    process end before the group does (killed), the server cancels the group's jobs."""
    from dvt_connect.connect_server import job_group_line

    attached = _attached
    if attached is None or attached[2] is not spark:
        return
    with _send_lock, contextlib.suppress(OSError):  # a closed socket: the server cancels
        attached[0].sendall(job_group_line(group, running))


def detach(*, exiting: bool = False) -> None:
    """Leave the server running: close our gateway and socket (the server then releases the
    gateway and what we made through it) and forget PySpark's handles to its context.
    ``exiting``: the process ends, and with it the accumulator server's thread (stopping it
    waits up to its 0.5 s poll)."""
    global _attached
    with _lock:
        if _attached is None:
            return
        conn, gateway, session = _attached
        _attached = None
    context = session.sparkContext
    if not exiting:
        with contextlib.suppress(Exception):
            context._accumulatorServer.shutdown()
    # the folder PySpark made for this client in the server's local dir (this machine's): the
    # server would keep one per command until it stops
    temp_dir = getattr(context, "_temp_dir", None)
    if temp_dir:
        shutil.rmtree(temp_dir, ignore_errors=True)
    with contextlib.suppress(Exception):
        gateway.close()
    conn.close()
    _forget()
    _restore()


def _restore() -> None:
    from pyspark import SparkContext

    global _own_jvm
    SparkContext._gateway, SparkContext._jvm = _own_jvm
    _own_jvm = (None, None)


def _forget() -> None:
    """Clear PySpark's class-level handles to a context and its JVM (what ``SparkSession.stop``
    clears, and the gateway), so that PySpark drives the JVM we hand it next."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession, SQLContext

    SparkContext._active_spark_context = None
    SparkContext._gateway = None
    SparkContext._jvm = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    SQLContext._instantiatedContext = None
