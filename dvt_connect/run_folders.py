"""Spark's temporary folders for the local masters dvt starts: one per process,
``$DVT_HOME/tmp/spark-<token>-<pid>`` (``spark.local.dir`` and the JVM's ``java.io.tmpdir``),
where the token begins with the creation time as staging names do.

The process holds an exclusive lock on the folder's ``.owner`` file while it lives; the kernel
releases it when the process dies, however it dies. A folder whose lock can be taken belongs to
no running process: a killed run's leftover (`dvt debug` lists it, `dvt clean --yes` removes
it). A run that ends normally removes its own folder at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import shutil
from pathlib import Path

ROOT = "tmp"
OWNER = ".owner"
_NAME = re.compile(r"spark-([0-9a-f]{12})-(\d+)")
_held: dict[Path, int] = {}


def runs_root() -> Path:
    from dvt_connect.paths import dvt_home

    return dvt_home() / ROOT


def claim() -> Path:
    """This process's folder, created and locked on first use (the same folder afterwards)."""
    for path in _held:
        if path.parent == runs_root():
            return path
    from dvt_connect.connectors.jdbc.ddl import side_token

    path = runs_root() / f"spark-{side_token()}-{os.getpid()}"
    path.mkdir(parents=True, mode=0o700)
    fd = os.open(path / OWNER, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[path] = fd
    atexit.register(_release, path)
    return path


def _release(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def parse(name: str) -> tuple[float, int] | None:
    """(creation time, pid) of one of our run folders' names; None for any other name."""
    from dvt_connect.connectors.jdbc.ddl import token_time

    match = _NAME.fullmatch(name)
    if match is None:
        return None
    created = token_time(match.group(1))
    return (created, int(match.group(2))) if created is not None else None


def owner_alive(path: Path) -> bool | None:
    """Whether a running process holds ``path``'s lock (None: no lock file to tell by)."""
    try:
        fd = os.open(path / OWNER, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing releases a lock we took
    return False
