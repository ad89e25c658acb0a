"""Native bulk paths for PostgreSQL and MariaDB, checked against the JDBC path on real servers.

The typed fixture (decimals at precision 38, timestamps around daylight-saving changes, unicode,
empty strings and bytes, NULLs) is the write side's, from ``tests/write/fixtures.py``: the same
values go through both paths and must come out equal.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dvt_services  # noqa: E402
from objectstore.conftest import stop_process  # noqa: E402
from write.fixtures import (  # noqa: E402
    mariadb_client,
    mariadb_drop,
    mariadb_tables,
    pg_drop,
    pg_tables,
    unique_name,
)


@pytest.fixture
def pg_names(pg: dict[str, Any]) -> Iterator[Any]:
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = unique_name(f"dvtn_{prefix}")
        made.append(name)
        return name

    yield make
    pg_drop(pg, *made)


@pytest.fixture
def maria_names(mariadb: dict[str, Any]) -> Iterator[Any]:
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = unique_name(f"dvtn_{prefix}")
        made.append(name)
        return name

    yield make
    mariadb_drop(mariadb, *made)


@pytest.fixture
def nothing_left(pg: dict[str, Any], mariadb: dict[str, Any]) -> Iterator[None]:
    """After the test, no staging or renamed-away table of ours from these tests remains."""
    yield
    assert pg_tables(pg, "dvtn\\_%\\_\\_dvt\\_%") == []
    assert mariadb_tables(mariadb, "dvtn\\_%\\_\\_dvt\\_%") == []


@pytest.fixture
def mariadb_local_infile_off() -> Iterator[dict[str, Any]]:
    """A throwaway MariaDB of its own, started with ``local_infile`` OFF, on a free loopback port.

    The shared test server must not be switched: ``local_infile`` is a global variable, and the
    other workers' LOAD DATA writes would see it OFF too. This server comes from the same binaries
    (``make services`` installs them), takes about a second, and is stopped by its PID."""
    binary = dvt_services.mariadbd_path()
    install_db = dvt_services.mariadb_install_db()
    if binary is None or install_db is None:
        pytest.fail("mariadbd and mariadb-install-db are needed (`make services` installs them)")
    owner = dvt_services.owner_of_servers("mariadb")
    base = Path(tempfile.mkdtemp(prefix="dvt-maria-off-"))
    data = base / "data"
    user_args = [f"--user={owner}"] if owner else []
    if owner:
        shutil.chown(base, owner)
    done = subprocess.run([install_db, "--no-defaults", f"--datadir={data}",
                           "--auth-root-authentication-method=normal", "--skip-test-db",
                           *user_args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr or done.stdout
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [str(binary), "--no-defaults", f"--datadir={data}", f"--socket={base}/s.sock",
         f"--pid-file={base}/s.pid", f"--log-error={base}/err.log", "--bind-address=127.0.0.1",
         f"--port={port}", "--skip-grant-tables", "--local-infile=0",
         "--innodb-buffer-pool-size=32M", *user_args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        address = {"host": "127.0.0.1", "port": port, "user": "root", "password": "",
                   "database": "dvt_off"}
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (base / "err.log").read_text(errors="replace")[-2000:]
            try:
                with mariadb_client({**address, "database": None}) as conn, \
                        conn.cursor() as cur:
                    cur.execute("CREATE DATABASE dvt_off")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield address
    finally:
        stop_process(proc, grace=30)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_eager_autovacuum() -> Iterator[dict[str, Any]]:
    """A throwaway PostgreSQL of its own on a free loopback port whose autovacuum looks for work
    every second (the shared server's default is a minute, and is not ours to change for the
    other workers) and whose log names every lock wait that passes ``deadlock_timeout``. Same
    binaries as ``make services``; about two seconds; stopped at once after the test."""
    bindir = dvt_services.pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL's initdb and pg_ctl are needed (`make services` installs them)")
    owner = dvt_services.owner_of_servers("postgres")
    base = Path(tempfile.mkdtemp(prefix="dvt-pg-av-"))
    data, log = base / "data", base / "server.log"
    if owner:
        shutil.chown(base, owner)
    done = dvt_services.run_as(owner, [str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
    assert done.returncode == 0, done.stderr or done.stdout
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c autovacuum_naptime=1 -c log_lock_waits=on -c log_autovacuum_min_duration=0")
    done = dvt_services.run_as(owner, [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                       "-o", options, "-w", "-t", "60", "start"])
    assert done.returncode == 0, done.stderr or done.stdout or log.read_text()[-2000:]
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "postgres", "password": "",
               "database": "postgres", "log": log}
    finally:
        dvt_services.run_as(owner, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                    "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)
