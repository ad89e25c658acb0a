"""Object stores on their real protocols, on loopback: moto's S3-compatible server (from PyPI),
started per module on a free port and stopped by its PID."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# moto accepts any key pair; these are not secrets of anything
ACCESS_KEY = "dvt-test-access"
SECRET_KEY = "dvt-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint: str
    pid: int

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server(log: Path) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, logging to ``log``; stopped by its PID."""
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto's S3 server did not start: {Path(log).read_text()[-2000:]}")
                time.sleep(0.2)
        yield S3Server(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        stop_process(proc, grace=10)


def stop_process(proc: subprocess.Popen[bytes], *, grace: float) -> None:
    """Stop the server this test started, by its PID: SIGTERM, then SIGKILL after ``grace``."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server
