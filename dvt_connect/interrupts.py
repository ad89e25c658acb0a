"""SIGINT and SIGTERM stop a run the same way: an exception in the main thread, so every
``finally`` (staging tables dropped, staging folders deleted, lock files removed) runs, then one
line and the shell's exit code (130, 143).

SIGTERM is what `timeout`, systemd and Kubernetes send; Python's default for it ends the process
at once, with no clean-up. PySpark replaces the SIGINT handler when a SparkContext starts with one
that calls into the JVM from inside the handler (a re-entrant Py4J call: tracebacks, and the
interrupted call's connection broken); :func:`keep_handlers` puts ours back.

Before the exception is raised, the work registered with :func:`stopping` is stopped (the running
Spark jobs cancelled and waited for), from another thread: a handler must not call the JVM on
the connection the main thread is blocked in, and the clean-up in the ``finally`` blocks must not
race tasks still writing (a staging folder deleted, then re-created by a running task).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_code`` is the shell's (128 + signal number)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(signal.Signals(signum).name)

    @property
    def message(self) -> str:
        if self.signum == signal.SIGINT:
            return "Interrupted."
        return f"Terminated ({signal.Signals(self.signum).name})."


STOP_SECONDS = 60.0  # the longest a signal waits for the running work to stop

_received: list[int] = []
_stoppers: dict[int, Callable[[], None]] = {}
_lock = threading.Lock()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _received:  # already stopping: let the clean-up of the first signal finish
        return
    _received.append(signum)
    stop_all()
    _settle_jvm_call(frame)
    raise Interrupted(signum)


def _in_jvm_call(frame: FrameType | None) -> bool:
    """The main thread was waiting for Spark's JVM to answer a call (a write's ``save()``)."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "send_command" and f"{os.sep}py4j{os.sep}" in code.co_filename:
            return True
        frame = frame.f_back
    return False


def _settle_jvm_call(frame: FrameType | None, timeout: float = STOP_SECONDS) -> None:
    """When the signal cut a call into Spark's JVM short, the JVM still runs it: wait until it
    answers (cancelling the jobs it starts meanwhile: a write signalled before its job began
    would otherwise start it after the clean-up, and re-create a staging table just dropped),
    then close the main thread's py4j connection, whose next read would take that answer for
    its own (every answer off by one); the clean-up's calls open a fresh one."""
    if "pyspark" not in sys.modules or not _in_jvm_call(frame):
        return
    with contextlib.suppress(Exception):  # the JVM may be gone: nothing to wait for
        from pyspark import SparkContext

        client = getattr(SparkContext._gateway, "_gateway_client", None)
        get = getattr(client, "get_thread_connection", None)
        connection = get() if get is not None else None
        if connection is None or connection.socket is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answered, _, _ = select.select([connection.socket], [], [], 0.5)
            if answered:
                break
            stop_all(max(0.0, deadline - time.monotonic()))
        connection.close(reset=True)


def stop_all(timeout: float = STOP_SECONDS) -> None:
    """Run every registered stopper on a helper thread and wait for them (up to ``timeout``)."""
    with _lock:
        stoppers = list(_stoppers.values())
    if not stoppers:
        return

    def run() -> None:
        for stop in stoppers:
            with contextlib.suppress(Exception):  # the JVM may be gone: nothing runs any more
                stop()

    thread = threading.Thread(target=run, name="dvt-stop", daemon=True)
    thread.start()
    thread.join(timeout)


@contextlib.contextmanager
def stopping(stop: Callable[[], None]) -> Iterator[None]:
    """While the body runs, a signal calls ``stop`` (which must return once the work has
    stopped) before raising :class:`Interrupted`."""
    key = id(stop)
    with _lock:
        _stoppers[key] = stop
    try:
        yield
    finally:
        with _lock:
            _stoppers.pop(key, None)


def install() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (the CLI process only;
    a library caller keeps its own handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _received.clear()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _handler)


def received() -> int | None:
    """The signal that stopped this run, if one did."""
    return _received[0] if _received else None


@contextlib.contextmanager
def keep_handlers() -> Iterator[None]:
    """Whatever handlers the process had for SIGINT and SIGTERM are still in place after the
    body (a SparkContext's start)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved: dict[int, Any] = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            if handler is not None:
                signal.signal(signum, handler)
