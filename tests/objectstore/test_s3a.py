"""A files target on `s3a://` through the real hadoop-aws and AWS SDK jars `dvt sync` fetched
from Maven Central, against moto's S3 server on loopback: overwrite, append, and a failed
transfer that leaves the target as it was. Each transfer is the `dvt` command in its own process
(its own Spark session with those jars)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvt_connect.console import CaptureConsole
from dvt_connect.jars.sync import SyncOptions, sync

from .conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from write.fixtures import pg_client, unique_name  # noqa: E402

pytestmark = [pytest.mark.maven, pytest.mark.postgres, pytest.mark.network, pytest.mark.spark]

BUCKET = "dvt-lake"


def _rows_in(server: S3Server, prefix: str) -> tuple[list[int], list[str]]:
    """Ids in the Parquet files under ``prefix`` (read with pyarrow, not Spark), and the keys
    of anything dvt left behind (staging folders)."""
    import pyarrow.parquet as pq

    client = server.client()
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix) for o in page.get("Contents", [])]
    ids: list[int] = []
    for key in keys:
        if key.endswith(".parquet") and "__dvt_" not in key:
            body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            ids += pq.read_table(io.BytesIO(body)).column("id").to_pylist()
    return sorted(ids), [k for k in keys if "__dvt_" in k]


def _dvt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dvt_connect", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_files_target_on_s3a_through_the_synced_hadoop_aws(
        s3_server: S3Server, maven_cache: Path, pg: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the jars: PostgreSQL's driver and the s3 filesystem, from Central (cached between runs)
    monkeypatch.setenv("DVT_HOME", str(maven_cache / "dvt-home"))
    monkeypatch.setenv("DVT_MAVEN_LOCAL_REPOSITORY", str(maven_cache / "no-local-repository"))
    console = CaptureConsole()
    outcome = sync(SyncOptions(adapters=("postgres",), buckets=("s3",),
                               jars_dir=maven_cache / "jars"), console)
    assert outcome.exit_code == 0, console.text

    home = tmp_path / "home"
    home.mkdir()
    (home / "jars").symlink_to(maven_cache / "jars")
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    pg_output = {"type": "postgres", "host": pg["host"], "port": pg["port"],
                 "user": pg["user"], "dbname": pg["database"], "schema": "public"}
    if pg.get("password"):
        pg_output["password"] = "{{ env_var('DVT_ENV_SECRET_PG') }}"
    (cfg / "profiles.yml").write_text(yaml.safe_dump({"s3test": {"target": "lake", "outputs": {
        "pg": pg_output,
        "lake": {"type": "files", "path": f"s3a://{BUCKET}/lake", "format": "parquet"}}}}))
    (cfg / "buckets.yml").write_text(yaml.safe_dump({"s3test": {"target": "moto", "outputs": {
        "moto": {"type": "s3", "bucket": BUCKET, "region": REGION,
                 "endpoint_url": s3_server.endpoint, "aws_access_key_id": ACCESS_KEY,
                 "aws_secret_access_key": SECRET_KEY}}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVT_", "AWS_"))}
    env.update(DVT_HOME=str(home), DVT_PROFILES_DIR=str(cfg), DVT_PROFILE="s3test")
    if pg.get("password"):
        env["DVT_ENV_SECRET_PG"] = str(pg["password"])

    s3_server.client().create_bucket(Bucket=BUCKET)
    table = unique_name("dvts3")
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE public.{table} AS SELECT g AS id, 'row ' || g AS label "
                     "FROM generate_series(1, 50) g")
    try:
        base = ["transfer", "--source", "pg", "--target", "lake", "--target-table", "orders"]
        run = _dvt(env, *base, "--table", f"public.{table}", "--mode", "overwrite")
        assert run.returncode == 0, run.stdout + run.stderr
        assert _rows_in(s3_server, "lake/orders/") == (list(range(1, 51)), [])

        run = _dvt(env, *base, "--table", f"public.{table}", "--mode", "append")
        assert run.returncode == 0, run.stdout + run.stderr
        assert _rows_in(s3_server, "lake/orders/") == (sorted(list(range(1, 51)) * 2), [])

        # PostgreSQL fails the read half way (division by zero at id 25): one error, no Java
        # stack, and the target keeps exactly what it had
        run = _dvt(env, *base, "--query", f"SELECT id, label, 1 / (id - 25) AS x "
                   f"FROM public.{table}", "--mode", "overwrite")
        assert run.returncode == 1, run.stdout + run.stderr
        assert "The target was left as it was" in run.stderr
        assert "Traceback" not in run.stderr and "at org.apache" not in run.stderr
        assert _rows_in(s3_server, "lake/orders/") == (sorted(list(range(1, 51)) * 2), [])
    finally:
        with pg_client(pg) as conn:
            conn.execute(f"DROP TABLE IF EXISTS public.{table}")
