"""Fault injection: real `dvt` processes against the real servers, killed, signalled, starved.

Every test here runs the CLI as a user does (a fresh process, jars from a real `dvt sync`
against Debian's Maven repository) and checks what the user sees and what is left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dvt_services
import pytest
from objectstore.conftest import S3Server, moto_server

DEBIAN_REPO = "file:///usr/share/maven-repo"
PG_DRIVER = "org.postgresql:postgresql:42.5.5"
MARIADB_DRIVER = "org.mariadb.jdbc:mariadb-java-client:2.7.6"
# Known secret values: every test asserts none of them reaches any output, log or command line.
DB_SECRET = "Fault-Db-Secret-4711"
S3_SECRET = "Fault-S3-Secret-Key-0815"
S3_TOKEN = "Fault-S3-Session-Token-2342"
AZURE_KEY = "RmF1bHQtQXp1cmUtS2V5LTk5MTE="
SECRETS = (DB_SECRET, S3_SECRET, S3_TOKEN, AZURE_KEY)

SERVERS = dvt_services.addresses()
PG, MARIADB = SERVERS["postgres"].as_dict(), SERVERS["mariadb"].as_dict()


def psql(sql: str) -> str:
    out = SERVERS["postgres"].client(sql)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def maria(sql: str) -> str:
    out = SERVERS["mariadb"].client(sql)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@dataclass
class Cli:
    env: dict[str, str]
    root: Path
    lake: Path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dvt_connect", *args]

    def run(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.command(*args), env=dict(self.env, **env),
                              capture_output=True, text=True, timeout=timeout)
        assert_no_secret(done.stdout + done.stderr)
        return done

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), env=dict(self.env, **env), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret {secret[:6]}... leaked"


def write_config(root: Path, lake: Path, schema: str = "public", s3_endpoint: str = "") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "profiles.yml").write_text(textwrap.dedent(f"""
        faults:
          target: lake
          outputs:
            pg:
              type: postgres
              host: {PG["host"]}
              port: {PG["port"]}
              user: {PG["user"]}
              password: "{DB_SECRET}"
              dbname: {PG["database"]}
              schema: {schema}
              packages: ["{PG_DRIVER}"]
            maria:
              type: mariadb
              host: {MARIADB["host"]}
              port: {MARIADB["port"]}
              user: {MARIADB["user"]}
              password: "{MARIADB["password"]}"
              database: {MARIADB["database"]}
              packages: ["{MARIADB_DRIVER}"]
            lake:
              type: files
              path: {lake}
              format: parquet
            s3lake:
              type: files
              bucket: s3_used
              path: lake
              format: parquet
            refused:
              type: postgres
              host: 127.0.0.1
              port: 9
              user: nobody
              password: "{DB_SECRET}"
              dbname: nothing
              packages: ["{PG_DRIVER}"]
    """))
    # PostgreSQL here trusts 127.0.0.1: the password is accepted and ignored, so every run also
    # proves it is never shown
    (root / "buckets.yml").write_text(textwrap.dedent(f"""
        default:
          target: s3_used
          outputs:
            s3_used:
              type: s3
              bucket: {S3_BUCKET}
              region: eu-west-1
              aws_access_key_id: AKIAFAULTUSED
              aws_secret_access_key: "{S3_SECRET}"
              aws_session_token: "{S3_TOKEN}"
              endpoint_url: "{s3_endpoint or 'http://127.0.0.1:9'}"
            azure_unused:
              type: azure
              storage_account: dvtfaultunused
              container: stage
              account_key: "{AZURE_KEY}"
    """))
    for name in ("profiles.yml", "buckets.yml"):
        (root / name).chmod(0o600)


S3_BUCKET = "dvt-fault-used"


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server on loopback, holding the bucket `s3_used` names (moto takes any key)."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        server.client().create_bucket(Bucket=S3_BUCKET)
        yield server


@pytest.fixture(scope="session")
def cli(tmp_path_factory: pytest.TempPathFactory, s3: S3Server) -> Iterator[Cli]:
    root = tmp_path_factory.mktemp("faults")
    lake = root / "lake"
    write_config(root, lake, s3_endpoint=s3.endpoint)
    env = dict(os.environ, DVT_HOME=str(root / "home"), DVT_PROFILES_DIR=str(root),
               DVT_PROFILE="faults")
    env.pop("PYSPARK_PYTHON", None)
    cli = Cli(env, root, lake)
    synced = cli.run("sync", "--repository", DEBIAN_REPO)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    yield cli


def pg_table(name: str, columns: str, rows_sql: str) -> None:
    psql(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({columns}); "
         f"INSERT INTO {name} {rows_sql}; ANALYZE {name};")


BIG = 1_000_000


@pytest.fixture(scope="session")
def big_table() -> Iterator[str]:
    """A PostgreSQL table big enough to be mid-transfer when a test strikes (shared)."""
    table = unique("faults_big")
    pg_table(table, "id bigint PRIMARY KEY, v text, n numeric(12,2)",
             f"SELECT g, md5(g::text), g / 100.0 FROM generate_series(1, {BIG}) g")
    yield table
    psql(f"DROP TABLE IF EXISTS {table}")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        ppid = parent(entry.name)
        if ppid is not None:
            children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def parent(pid: int | str) -> int | None:
    """``pid``'s parent process, or None once it is gone."""
    stat = read_proc(pid, "stat")
    return int(stat.rsplit(")", 1)[1].split()[1]) if stat else None


def read_proc(pid: int | str, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def scan_processes(ours: set[int]) -> list[str]:
    """Assert no secret is on any process's command line, nor in the environment of ``ours``;
    returns the command lines of ``ours``."""
    mine = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        cmdline = read_proc(entry.name, "cmdline")
        for secret in SECRETS:
            assert secret not in cmdline, f"a secret on the command line of {cmdline[:80]}"
        if int(entry.name) in ours:
            assert_no_secret(read_proc(entry.name, "environ"))
            mine.append(cmdline)
    return mine


def unique(prefix: str) -> str:
    import uuid

    return f"{prefix}_{uuid.uuid4().hex[:8]}"

