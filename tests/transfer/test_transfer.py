"""End-to-end transfers: the Python API on the shared session, and `dvt transfer` as a user runs
it (a fresh process, jars from a real `dvt sync` against Debian's Maven repository)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path

import dvt_services
import pytest

from dvt_connect.config import load_project
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.console import CaptureConsole
from dvt_connect.transfer.run import transfer

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

DEBIAN_REPO = "file:///usr/share/maven-repo"
PG_DRIVER = "org.postgresql:postgresql:42.5.5"
MARIADB_DRIVER = "org.mariadb.jdbc:mariadb-java-client:2.7.6"
SECRET = "Tr4nsfer-Secret-Value-93"


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


@pytest.fixture(scope="module")
def orders_table(pg: dict[str, object]) -> str:
    """A PostgreSQL table of 12,000 orders with a primary key, decimals and NULLs."""
    schema = f"xfer_{uuid.uuid4().hex[:6]}"
    psql(f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {schema}.orders (id bigint PRIMARY KEY, customer text,
                                      amount numeric(12,2), placed timestamptz);
        INSERT INTO {schema}.orders
        SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'customer ' || g END,
               (g * 7 % 100000) / 100.0, timestamptz '2024-03-10 06:00:00+00' + g * interval '1 min'
        FROM generate_series(1, 12000) g;
        ANALYZE {schema}.orders;
    """)
    yield schema
    psql(f"DROP SCHEMA {schema} CASCADE")


def write_profiles(folder: Path, schema: str, lake: Path, *, password: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    path.write_text(textwrap.dedent(f"""
        xfer:
          target: lake
          outputs:
            pg:
              type: postgres
              host: {PG["host"]}
              port: {PG["port"]}
              user: {PG["user"]}
              password: "{password or PG["password"]}"
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
    """))
    path.chmod(0o600)
    return path


def test_python_api_moves_a_table_to_parquet_with_exact_stats(spark, orders_table, tmp_path):
    lake = tmp_path / "lake"
    write_profiles(tmp_path / "cfg", orders_table, lake)
    project = load_project(tmp_path / "cfg")
    console = CaptureConsole()

    stats = transfer(
        spark, project.connection("pg"), project.connection("lake"),
        ReadRequest(table=TableRef("orders", orders_table), partitions=3),
        WriteRequest(table=TableRef("orders")), console=console,
    )

    assert stats.rows == 12000
    written = sum(f.stat().st_size for f in (lake / "orders").rglob("*.parquet"))
    assert stats.bytes == written and stats.bytes_kind == "files written"
    assert stats.partitions == 3
    back = spark.read.parquet(str(lake / "orders"))
    assert back.count() == 12000
    assert back.where("customer IS NULL").count() == 1200
    row = back.where("id = 7").collect()[0]
    assert row.amount == Decimal("0.49")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "dvt_connect", *args], env=env,
                          capture_output=True, text=True, timeout=600)
    assert SECRET not in done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def cli_env(orders_table, tmp_path_factory):
    """A DVT home whose jars come from a real `dvt sync` against Debian's Maven repository."""
    root = tmp_path_factory.mktemp("cli")
    lake = root / "lake"
    # PostgreSQL here trusts 127.0.0.1, so a password is accepted and ignored: every run below
    # also proves it is never printed or logged
    write_profiles(root, orders_table, lake, password=SECRET)
    env = dict(os.environ, DVT_HOME=str(root / "home"), DVT_PROFILES_DIR=str(root))
    env.pop("DVT_PROFILE", None)
    synced = _run(["sync", "--repository", DEBIAN_REPO], env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    return env, root, lake


def test_cli_transfer_to_mariadb_json_stats_and_target_rows(cli_env, orders_table):
    env, _, _ = cli_env
    table = f"xfer_{uuid.uuid4().hex[:6]}"
    try:
        done = _run(["transfer", "--source", "pg", "--table", f"{orders_table}.orders",
                     "--target", "maria", "--target-table", table, "--json"], env)
        assert done.returncode == 0, done.stderr
        stats = json.loads(done.stdout)
        assert stats["rows"] == 12000
        assert stats["bytes_kind"] == "payload" and stats["bytes"] > 12000 * 8
        assert maria(f"SELECT COUNT(*), SUM(customer IS NULL), SUM(amount) FROM {table}") == (
            psql(f"SELECT COUNT(*), SUM((customer IS NULL)::int), SUM(amount) "
                 f"FROM {orders_table}.orders").replace("|", "\t")
        )
        assert maria(f"SELECT COUNT(*) FROM information_schema.tables WHERE table_name "
                     f"LIKE '{table}__dvt_stage%'") == "0"
    finally:
        maria(f"DROP TABLE IF EXISTS {table}")


def test_cli_dry_run_prints_the_plan_and_moves_nothing(cli_env, orders_table):
    env, _, lake = cli_env
    done = _run(["transfer", "--source", "pg", "--table", f"{orders_table}.orders",
                 "--target-table", "dry", "--partitions", "4", "--dry-run", "--json"], env)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["dry_run"] is True
    assert plan["read"]["connector"] == "jdbc"
    assert len(plan["read"]["partitions"]) == 4
    assert any("postgresql-42.5.5" in jar for jar in plan["jars"])
    assert not (lake / "dry").exists()
    columns = {c["name"]: c for c in plan["columns"]}
    assert list(columns) == ["id", "customer", "amount", "placed"]
    assert columns["amount"]["source_type"] == "numeric(12,2)"
    assert columns["amount"]["spark_type"] == "decimal(12,2)" and columns["amount"]["exact"]
    assert columns["placed"]["spark_type"] == "timestamp"  # timestamptz: an instant
    assert columns["placed"]["target_type"] == "parquet timestamp"


def test_cli_dry_run_names_what_each_arrow_task_reads_of_a_parquet_file(cli_env, orders_table):
    import pyarrow as pa
    import pyarrow.parquet as pq

    env, _, lake = cli_env
    env = dict(env, DVT_SPARK_MASTER="local[2]")  # a task per core
    (lake / "one").mkdir(parents=True)
    pq.write_table(pa.table({"id": pa.array(range(400_000), pa.int64())}),
                   lake / "one" / "data.parquet", row_group_size=50_000)
    args = ["transfer", "--source", "lake", "--table", "one", "--target", "pg",
            "--target-table", "one_in", "--dry-run"]

    # Python's own import log: the driver reads the footers without importing pyarrow (its
    # tasks import it in their processes, whose output goes to the JVM's log)
    planned = _run([*args, "--json"], dict(env, PYTHONPROFILEIMPORTTIME="1"))
    assert re.search(r"\|\s+dvt_connect\.connectors\.parquet_footer$", planned.stderr, re.M)
    assert not re.search(r"\|\s+pyarrow\b", planned.stderr)
    plan = json.loads(planned.stdout)
    assert plan["route"]["arrow_end_to_end"] is True
    assert plan["route"]["tasks"] == ["data.parquet row groups 0-3 (200,000 rows)",
                                      "data.parquet row groups 4-7 (200,000 rows)"]
    shown = _run(args, env)
    assert shown.returncode == 0, shown.stderr
    assert "Arrow tasks (2)" in shown.stdout and "row groups 4-7" in shown.stdout
    assert "Partitions (" not in shown.stdout
    assert psql(f"SELECT to_regclass('{orders_table}.one_in') IS NULL") == "t"


def test_cli_refuses_a_lossy_column_before_anything_is_written(cli_env):
    env, _, lake = cli_env
    done = _run(["transfer", "--source", "pg", "--query",
                 "SELECT 1 AS id, 0.1234567890123456789012345::numeric AS n",
                 "--target-table", "lossy"], env)
    assert done.returncode == 1, done.stdout + done.stderr
    said = " ".join(done.stderr.split())
    assert "`n` is numeric -> Spark decimal(38,18)" in said
    assert "--allow-lossy n" in said
    assert "Traceback" not in done.stderr
    assert not (lake / "lossy").exists()


def test_cli_missing_table_is_one_clear_error_without_java_trace(cli_env, orders_table):
    env, _, _ = cli_env
    done = _run(["transfer", "--source", "pg", "--table", f"{orders_table}.nope",
                 "--target-table", "x"], env)
    assert done.returncode == 1
    assert "nope" in done.stderr
    assert "at org." not in done.stderr and "Traceback" not in done.stderr
    assert "Py4JJavaError" not in done.stderr


def test_cli_without_synced_jars_names_the_sync_to_run(orders_table, tmp_path):
    write_profiles(tmp_path, orders_table, tmp_path / "lake")
    env = dict(os.environ, DVT_HOME=str(tmp_path / "empty-home"), DVT_PROFILES_DIR=str(tmp_path))
    done = _run(["transfer", "--source", "pg", "--table", f"{orders_table}.orders"], env)
    assert done.returncode == 1
    assert "dvt sync" in done.stderr and "output:pg" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_secret_in_spark_or_derby_logs(cli_env):
    """Runs last in this module (pytest keeps file order): every log the runs above wrote."""
    env, _, _ = cli_env
    logs = list(Path(env["DVT_HOME"]).rglob("*.log"))
    assert logs, "the CLI runs wrote no Spark log"
    for log in logs:
        assert SECRET not in log.read_text(errors="replace"), log

