"""The stage-native path end to end, with only the warehouse's SQL endpoint doubled
(:mod:`.doubles`): the real `dvt` command in its own process, Spark with the hadoop-aws and
AWS SDK jars `dvt sync` fetched, moto's S3 server on loopback, PostgreSQL on the other side.

* Snowflake -> PostgreSQL: `--dry-run` plans the unload (credentials masked, nothing run); the
  transfer has the double unload Parquet with the credentials the statement carries, Spark reads
  it over s3a, the types go through the unload contract, and the staging folder is gone.
* PostgreSQL -> Redshift: Spark writes Parquet over s3a, the double's COPY reads it back, and
  the core's swap makes it the target; again no folder is left and no secret is shown.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvt_connect.console import CaptureConsole
from dvt_connect.jars.sync import SyncOptions, sync

from .doubles import ENV, WarehouseDouble

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from objectstore.conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Server  # noqa: E402
from write.fixtures import pg_client, unique_name  # noqa: E402

pytestmark = [pytest.mark.maven, pytest.mark.postgres, pytest.mark.network, pytest.mark.spark]

BUCKET = "dvt-stage"
RUNNER = Path(__file__).resolve().parent / "run_dvt.py"
SF_PASSWORD = "sf-Pa55word-stage-4c1d"


def _staged_keys(server: S3Server) -> list[str]:
    """What is left under ``dvt/``, but for the empty ``dvt/`` marker S3A writes for the parent
    of a folder it deleted."""
    return [o["Key"] for o in server.client().list_objects_v2(Bucket=BUCKET, Prefix="dvt/")
            .get("Contents", []) if o["Key"] != "dvt/"]


@pytest.fixture(scope="module")
def jars(maven_cache: Path) -> Path:
    """PostgreSQL's, Snowflake's and Redshift's JDBC drivers and the s3 filesystem, from
    Central (cached). No vendor Spark connector has a release for the installed Spark: that is
    the case this path exists for, and the only thing sync may report."""
    os.environ.setdefault("DVT_MAVEN_LOCAL_REPOSITORY", str(maven_cache / "no-local-repository"))
    console = CaptureConsole()
    outcome = sync(SyncOptions(adapters=("postgres", "snowflake", "redshift"), buckets=("s3",),
                               jars_dir=maven_cache / "jars"), console)
    assert all(e.startswith(("native:snowflake: no release", "native:redshift: no release"))
               for e in outcome.errors), outcome.errors
    # BigQuery's stage-native SQL runs in its Python client: no jar (its dry-run test below)
    return maven_cache / "jars"


def _project(tmp_path: Path, jars: Path, s3: S3Server, pg: dict[str, Any],
             double: WarehouseDouble | None, warehouse: dict[str, Any],
             bucket: dict[str, Any] | None = None) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "jars").symlink_to(jars)
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    pg_output = {"type": "postgres", "host": pg["host"], "port": pg["port"], "user": pg["user"],
                 "dbname": pg["database"], "schema": "public"}
    if pg.get("password"):
        pg_output["password"] = "{{ env_var('DVT_ENV_SECRET_PG') }}"
    (cfg / "profiles.yml").write_text(yaml.safe_dump({"wh": {"target": "pg", "outputs": {
        "pg": pg_output, "wh": warehouse}}}))
    (cfg / "buckets.yml").write_text(yaml.safe_dump({"wh": {"target": "moto", "outputs": {
        "moto": bucket or {"type": "s3", "bucket": BUCKET, "region": REGION,
                           "endpoint_url": s3.endpoint, "aws_access_key_id": ACCESS_KEY,
                           "aws_secret_access_key": SECRET_KEY}}}}))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DVT_", "AWS_", "GOOGLE_")) and k != "BIGQUERY_EMULATOR_HOST"}
    env.update(DVT_HOME=str(home), DVT_PROFILES_DIR=str(cfg), DVT_PROFILE="wh",
               DVT_ENV_SECRET_SF=SF_PASSWORD)
    if double is not None:
        env[ENV] = str(double.save())
    if pg.get("password"):
        env["DVT_ENV_SECRET_PG"] = str(pg["password"])
    return env


def _dvt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([sys.executable, str(RUNNER), *args], env=env, capture_output=True,
                         text=True, timeout=420)
    shown = run.stdout + run.stderr
    for secret in (SECRET_KEY, ACCESS_KEY, SF_PASSWORD):
        assert secret not in shown, f"`{secret}` was shown:\n{shown}"
    return run


def _held_orders(folder: Path) -> str:
    """ORDERS as Snowflake unloads it: NUMBER(38,0) as a decimal, TIMESTAMP_NTZ as a Parquet
    timestamp not adjusted to UTC, TIMESTAMP_LTZ adjusted, VARIANT as its JSON text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    utc = dt.timezone.utc
    table = pa.table({
        "ID": pa.array([decimal.Decimal(i) for i in (1, 2, 3)], pa.decimal128(38, 0)),
        "NOTE": ["one", "two's", None],
        "AT_NTZ": pa.array([dt.datetime(2024, 1, i, 12, 30) for i in (1, 2, 3)],
                           pa.timestamp("us")),
        "AT_LTZ": pa.array([dt.datetime(2024, 1, i, 12, 30, tzinfo=utc) for i in (1, 2, 3)],
                           pa.timestamp("us", tz="UTC")),
        "DOC": ['{"a":1}', '{"b":[2]}', None],
    })
    path = folder / "orders.parquet"
    pq.write_table(table, path)
    return str(path)


def test_snowflake_unload_into_postgres(s3_server: S3Server, jars: Path, pg: dict[str, Any],
                                        tmp_path: Path) -> None:
    s3_server.client().create_bucket(Bucket=BUCKET)
    double = WarehouseDouble("snowflake", s3_server.endpoint, REGION, tmp_path)
    double.held["ORDERS"] = {"parquet": _held_orders(tmp_path), "types": [
        ["ID", "NUMBER", 38, 0], ["NOTE", "VARCHAR", 16777216, 0],
        ["AT_NTZ", "TIMESTAMPNTZ", 0, 9], ["AT_LTZ", "TIMESTAMPLTZ", 0, 9],
        ["DOC", "VARIANT", 0, 0]]}
    env = _project(tmp_path, jars, s3_server, pg, double, {
        "type": "snowflake", "account": "acme", "user": "LOADER", "database": "ANALYTICS",
        "schema": "PUBLIC", "password": "{{ env_var('DVT_ENV_SECRET_SF') }}"})
    table = unique_name("dvtsf")
    base = ["transfer", "--source", "wh", "--table", "PUBLIC.ORDERS", "--target", "pg",
            "--target-table", f"public.{table}"]
    try:
        plan = _dvt(env, *base, "--dry-run", "--json")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        read = json.loads(plan.stdout)["read"]
        assert read["connector"] == "snowflake_unload"
        assert "no Spark connector for snowflake can run here" in read["reason"]
        [statement] = read["statements"]
        assert statement.startswith(f"COPY INTO 's3://{BUCKET}/dvt/")
        assert statement.endswith(
            "/' FROM (SELECT * FROM \"PUBLIC\".\"ORDERS\") CREDENTIALS = (AWS_KEY_ID = '****' "
            "AWS_SECRET_KEY = '****') FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE")
        # a plan moves nothing: the warehouse is asked only for its catalog's row count
        [estimate] = double.statements()
        assert estimate["kind"] == "query" and "INFORMATION_SCHEMA.TABLES" in estimate["sql"]
        assert _staged_keys(s3_server) == []

        run = _dvt(env, *base, "--json")
        assert run.returncode == 0, run.stdout + run.stderr
        [unload] = [s for s in double.statements() if s["kind"] != "query"]
        # the warehouse, and only it, got the bucket's keys (the double used them to write)
        assert f"AWS_KEY_ID = '{ACCESS_KEY}' AWS_SECRET_KEY = '{SECRET_KEY}'" in unload["sql"]
        assert unload["sql"].replace(ACCESS_KEY, "****").replace(SECRET_KEY, "****") \
            .split("/dvt/")[1].split("/", 1)[1].startswith("0/' FROM (SELECT * FROM")
        assert _staged_keys(s3_server) == []  # the run's folder is gone
        with pg_client(pg) as conn:
            rows = conn.execute(f'SELECT "ID", "NOTE", "AT_NTZ", "AT_LTZ", "DOC" FROM '
                                f'public.{table} ORDER BY "ID"').fetchall()
            types = dict(conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_name = '{table}'").fetchall())
        assert [r[0] for r in rows] == [1, 2, 3] and rows[1][1] == "two's"
        assert rows[0][2] == dt.datetime(2024, 1, 1, 12, 30)
        assert rows[0][3] == dt.datetime(2024, 1, 1, 12, 30, tzinfo=dt.timezone.utc)
        assert rows[1][4] == '{"b":[2]}' and rows[2][4] is None
        assert types == {"ID": "numeric", "NOTE": "text",
                         "AT_NTZ": "timestamp without time zone",
                         "AT_LTZ": "timestamp with time zone", "DOC": "text"}
        stats = json.loads(run.stdout)
        assert "****" in json.dumps(stats) and SECRET_KEY not in json.dumps(stats)
    finally:
        with pg_client(pg) as conn:
            conn.execute(f"DROP TABLE IF EXISTS public.{table}")


def test_postgres_into_redshift_through_copy(s3_server: S3Server, jars: Path,
                                             pg: dict[str, Any], tmp_path: Path) -> None:
    s3_server.client().create_bucket(Bucket=BUCKET)
    double = WarehouseDouble("redshift", s3_server.endpoint, REGION, tmp_path)
    env = _project(tmp_path, jars, s3_server, pg, double, {
        "type": "redshift", "host": "rs.example.com", "user": "loader", "dbname": "dev",
        "schema": "public", "password": "{{ env_var('DVT_ENV_SECRET_SF') }}"})
    source = unique_name("dvtrs")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE public.{source} AS SELECT g AS id, 'row ' || g AS label, "
                     "TIMESTAMP '2024-05-01 10:00' + g * INTERVAL '1 minute' AS at "
                     "FROM generate_series(1, 20) g")
    try:
        run = _dvt(env, "transfer", "--source", "pg", "--table", f"public.{source}",
                   "--target", "wh", "--target-table", "public.orders", "--json")
        assert run.returncode == 0, run.stdout + run.stderr
        log = double.statements()
        kinds = [(s["kind"], s["sql"].split(" ")[0]) for s in log]
        assert kinds == [("execute", "CREATE"), ("transaction", "COPY"),
                         ("transaction", "ALTER")], log
        copy = log[1]["sql"]
        assert copy.startswith('COPY "public"."orders__dvt_stage_') or \
            copy.startswith('COPY "public"."orders'), copy
        assert f" FROM 's3://{BUCKET}/dvt/" in copy
        assert copy.endswith(f"/' ACCESS_KEY_ID '{ACCESS_KEY}' SECRET_ACCESS_KEY "
                             f"'{SECRET_KEY}' FORMAT AS PARQUET")
        orders = double.tables()["orders"]
        assert sorted(r["id"] for r in orders["rows"]) == list(range(1, 21))
        assert orders["columns"] == ["id", "label", "at"]
        # TIMESTAMP_MICROS, not Spark's default INT96 (which would read back as nanoseconds)
        assert orders["parquet_types"][2].startswith("timestamp[us"), orders["parquet_types"]
        assert _staged_keys(s3_server) == []
        notes = json.dumps(json.loads(run.stdout))
        assert "ACCESS_KEY_ID '****' SECRET_ACCESS_KEY '****'" in notes
    finally:
        with pg_client(pg) as conn:
            conn.execute(f"DROP TABLE IF EXISTS public.{source}")


def test_redshift_dry_run_plans_the_unload_with_keys_masked(s3_server: S3Server, jars: Path,
                                                             pg: dict[str, Any],
                                                             tmp_path: Path) -> None:
    s3_server.client().create_bucket(Bucket=BUCKET)
    double = WarehouseDouble("redshift", s3_server.endpoint, REGION, tmp_path)
    double.held["orders"] = {"parquet": "", "types": [["id", "int8", 19, 0],
                                                      ["at", "timestamptz", 29, 6]]}
    env = _project(tmp_path, jars, s3_server, pg, double, {
        "type": "redshift", "host": "rs.example.com", "user": "loader", "dbname": "dev",
        "schema": "public", "password": "{{ env_var('DVT_ENV_SECRET_SF') }}"})
    plan = _dvt(env, "transfer", "--source", "wh", "--table", "public.orders", "--target", "pg",
                "--target-table", "public.never_written", "--dry-run", "--json")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    read = json.loads(plan.stdout)["read"]
    assert read["connector"] == "redshift_unload"
    assert read["reason"].startswith("stage-native: Redshift unloads to `moto` (s3) and Spark "
                                     "reads the Parquet; no Spark connector for redshift can run "
                                     "here (no release of the redshift Spark connector")
    [statement] = read["statements"]
    run = statement.split("/dvt/")[1].split("/")[0]
    assert statement == (f"UNLOAD ('SELECT * FROM \"public\".\"orders\"') TO 's3://{BUCKET}/dvt/"
                         f"{run}/' ACCESS_KEY_ID '****' SECRET_ACCESS_KEY '****' FORMAT AS "
                         "PARQUET")
    # a plan runs only the catalog's row estimate on the warehouse, and leaves no folder
    assert [s["kind"] for s in double.statements()] == ["query"]
    assert _staged_keys(s3_server) == []


def test_bigquery_dry_run_plans_the_export_through_the_real_client(
        s3_server: S3Server, jars: Path, pg: dict[str, Any], tmp_path: Path) -> None:
    from .bigquery_double import BigQueryDouble

    token = "ya29.dvt-dry-run-Token-5e1a"
    bq = BigQueryDouble(s3_server.endpoint, (ACCESS_KEY, SECRET_KEY), REGION).start()
    bq.held["orders"] = {"parquet": "", "schema": [
        {"name": "id", "type": "INTEGER"}, {"name": "amount", "type": "NUMERIC"},
        {"name": "at", "type": "TIMESTAMP"}]}
    try:
        env = _project(tmp_path, jars, s3_server, pg, None, {
            "type": "bigquery", "project": "proj", "dataset": "ds", "method": "oauth-secrets",
            "token": "{{ env_var('DVT_ENV_SECRET_BQ') }}", "api_endpoint": bq.endpoint},
            bucket={"type": "gcs", "bucket": "dvt-gcs", "project": "proj"})
        env["DVT_ENV_SECRET_BQ"] = token
        plan = _dvt(env, "transfer", "--source", "wh", "--table", "ds.orders", "--target", "pg",
                    "--target-table", "public.never_written", "--dry-run", "--json")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert token not in plan.stdout + plan.stderr
        read = json.loads(plan.stdout)["read"]
        assert read["connector"] == "bigquery_unload"
        assert "no Spark connector for bigquery can run here" in read["reason"]
        [statement] = read["statements"]
        run = statement.split("/dvt/")[1].split("/")[0]
        assert statement == (f"EXPORT DATA OPTIONS (uri = 'gs://dvt-gcs/dvt/{run}/*.parquet', "
                             "format = 'PARQUET', overwrite = true) AS SELECT * FROM "
                             "`ds`.`orders`")
        # the plan asked BigQuery, through its client, only for a dry run of the query
        [describe] = bq.job_bodies()
        assert describe["configuration"] == {"query": {
            "query": "SELECT * FROM `ds`.`orders`", "useLegacySql": False,
            "useQueryCache": False}, "dryRun": True}
        assert {r["authorization"] for r in bq.requests} == {f"Bearer {token}"}
        logs = Path(env["DVT_HOME"]) / "logs"
        for log in logs.glob("*") if logs.exists() else ():
            assert token not in log.read_text(errors="replace"), log
    finally:
        bq.stop()
