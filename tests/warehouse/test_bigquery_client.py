"""dvt's BigQuery executor with the real ``google-cloud-bigquery`` client, up to the network: the
client builds and sends the real REST requests to a DOUBLE of BigQuery's API on loopback
(:mod:`.bigquery_double`), which records the jobs and writes or reads the Parquet they name
(GCS played by moto's S3 server, see the double). Asserted: the exact job configuration of the
EXPORT DATA query job, of the load job (PARQUET into the staging table, WRITE_APPEND) and of the
dry-run that describes a query; that the output's token travels only as the bearer token of the
requests, and never in a job, a log record or anything printed.

Past the network, not run here: BigQuery itself (the double stands in for its API) and Spark
reading or writing ``gs://`` (the GCS connector cannot reach GCS from here).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.config.buckets import parse_bucket
from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.stage_native.bigquery import BigQuerySql
from dvt_connect.connectors.stage_native.sql import (
    auth_clause,
    load_statement,
    unload_statement,
    warehouse_uri,
)
from dvt_connect.connectors.staging import Stage

from .bigquery_double import BigQueryDouble

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from objectstore.conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Server  # noqa: E402

pytestmark = [pytest.mark.network]

BUCKET = "dvt-bq-stage"
TOKEN = "ya29.dvt-test-Bearer-9f3c1e"  # the output's OAuth access token (method: oauth-secrets)
SELECT = "SELECT * FROM `ds`.`orders`"


@pytest.fixture()
def double(s3_server: S3Server, tmp_path: Path) -> Iterator[BigQueryDouble]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    s3_server.client().create_bucket(Bucket=BUCKET)
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "amount": pa.array([decimal.Decimal("1.5"), decimal.Decimal("-2.25"), None],
                           pa.decimal128(38, 9)),
        "at": pa.array([dt.datetime(2024, 1, i, 12, tzinfo=dt.timezone.utc) for i in (1, 2, 3)],
                       pa.timestamp("us", tz="UTC")),
    }), path)
    bq = BigQueryDouble(s3_server.endpoint, (ACCESS_KEY, SECRET_KEY), REGION).start()
    bq.held["orders"] = {"parquet": str(path), "schema": [
        {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
        {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE", "precision": "38",
         "scale": "9"},
        {"name": "at", "type": "TIMESTAMP", "mode": "NULLABLE"}]}
    try:
        yield bq
    finally:
        bq.stop()


def _output(endpoint: str) -> Any:
    return parse_connection("bq", {"type": "bigquery", "project": "proj", "dataset": "ds",
                                   "method": "oauth-secrets", "token": TOKEN,
                                   "api_endpoint": endpoint},
                            path=Path("profiles.yml"), key="p.outputs.bq")


def _without_job_id(body: dict[str, Any]) -> dict[str, Any]:
    assert body["jobReference"].pop("jobId")
    return body


def test_the_real_client_describes_exports_and_loads(double: BigQueryDouble,
                                                     s3_server: S3Server,
                                                     caplog: pytest.LogCaptureFixture,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    caplog.set_level(logging.DEBUG)
    conn = _output(double.endpoint)
    stage = conn.facts.stage
    bucket = parse_bucket("gcs", {"type": "gcs", "bucket": BUCKET, "project": "proj"},
                          path=Path("buckets.yml"), key="default.outputs.gcs")
    uri = warehouse_uri(stage, bucket, bucket.spark_path("dvt/run1/0/"))
    auth = auth_clause(stage, bucket, conn)
    unload = unload_statement(stage, SELECT, uri, auth)
    db = BigQuerySql(None, conn)
    try:
        # the query's columns: a dry-run query job, nothing runs
        assert [(t.name, t.type_name, t.precision, t.scale) for t in db.describe(SELECT)] == [
            ("id", "INTEGER", 0, 0), ("amount", "NUMERIC", 38, 9), ("at", "TIMESTAMP", 0, 0)]
        # the unload: a query job running EXPORT DATA
        db.execute(unload.sql)
        # the way in: a load job into the staging table, then the swap as one script
        files = stage.files.format(uri=uri)
        db.load_parquet(Stage("ds", "orders__dvt_stage_1", ("id", "amount", "at"),
                              "`ds`.`orders__dvt_stage_1`"), files)
        db.transaction(["ALTER TABLE `ds`.`orders__dvt_stage_1` RENAME TO `orders`"])
    finally:
        db.close()

    describe, export, load, swap = [_without_job_id(b) for b in double.job_bodies()]
    assert describe == {"jobReference": {"projectId": "proj"}, "configuration": {
        "query": {"query": SELECT, "useLegacySql": False, "useQueryCache": False},
        "dryRun": True}}
    assert export == {"jobReference": {"projectId": "proj"}, "configuration": {"query": {
        "query": "EXPORT DATA OPTIONS (uri = 'gs://dvt-bq-stage/dvt/run1/0/*.parquet', "
                 "format = 'PARQUET', overwrite = true) AS SELECT * FROM `ds`.`orders`",
        "useLegacySql": False}}}
    assert load == {"jobReference": {"projectId": "proj"}, "configuration": {"load": {
        "sourceUris": ["gs://dvt-bq-stage/dvt/run1/0/*.parquet"], "sourceFormat": "PARQUET",
        "writeDisposition": "WRITE_APPEND", "destinationTable": {
            "projectId": "proj", "datasetId": "ds", "tableId": "orders__dvt_stage_1"}}}}
    assert swap["configuration"]["query"]["query"] == (
        "BEGIN TRANSACTION;\nALTER TABLE `ds`.`orders__dvt_stage_1` RENAME TO `orders`;\n"
        "COMMIT TRANSACTION;")
    # what plans and notes say about that load job is what the job was told
    shown = load_statement(stage, "`ds`.`orders__dvt_stage_1`", uri, auth).shown
    assert shown == ("load job: sourceUris = ['gs://dvt-bq-stage/dvt/run1/0/*.parquet'], "
                     "sourceFormat = PARQUET, destinationTable = `ds`.`orders__dvt_stage_1`, "
                     "writeDisposition = WRITE_APPEND")

    # the export wrote the rows where the statement said; the load read them back
    key = "dvt/run1/0/000000000000.parquet"
    exported = pq.read_table(io.BytesIO(
        s3_server.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    assert exported.column("id").to_pylist() == [1, 2, 3]
    loaded = double.tables["orders"]
    assert [r["id"] for r in loaded["rows"]] == [1, 2, 3] and loaded["files"] == 1
    assert loaded["rows"][1]["amount"] == decimal.Decimal("-2.25")

    # the token went to the API as the bearer token of every request, and nowhere else
    assert {r["authorization"] for r in double.requests} == {f"Bearer {TOKEN}"}
    assert TOKEN not in repr(double.job_bodies()) + unload.shown + unload.sql
    printed = capsys.readouterr()
    assert TOKEN not in caplog.text + printed.out + printed.err
    assert TOKEN not in repr(conn) and TOKEN not in str(conn.display())


def test_a_missing_table_is_none_and_a_refused_job_is_the_apis_message(
        double: BigQueryDouble) -> None:
    from google.api_core.exceptions import BadRequest

    db = BigQuerySql(None, _output(double.endpoint))
    try:
        assert db.table_kind("ds", "nope") is None
        with pytest.raises(BadRequest, match="the double does not know this statement"):
            db.execute("MERGE INTO x")
    finally:
        db.close()


def _staged_parquet(s3_server: S3Server, key: str, ids: list[int]) -> None:
    """The Parquet Spark writes into the run's folder (Spark cannot reach gs:// here)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64()),
                             "label": [f"row {i}" for i in ids]}), out)
    s3_server.client().put_object(Bucket=BUCKET, Key=key, Body=out.getvalue())


def test_the_staged_write_loads_by_job_then_swaps_without_ddl_in_a_transaction(
        double: BigQueryDouble, s3_server: S3Server) -> None:
    """The core's staged write on BigQuery: dvt's CREATE TABLE in BigQuery's types, the load
    job into it, then CREATE OR REPLACE TABLE … COPY (BigQuery allows no DDL on permanent
    tables inside a transaction), or an INSERT … SELECT for append."""
    from types import SimpleNamespace

    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from dvt_connect.connectors.base import TableRef, WriteRequest
    from dvt_connect.connectors.staging import staged_write

    conn = _output(double.endpoint)
    df = SimpleNamespace(schema=StructType([StructField("id", LongType()),
                                            StructField("label", StringType())]))
    db = BigQuerySql(None, conn)
    try:
        for run, (mode, ids) in enumerate((("overwrite", [1, 2]), ("overwrite", [3, 4, 5]),
                                           ("append", [6]))):
            files = f"gs://{BUCKET}/dvt/w{run}/*.parquet"
            _staged_parquet(s3_server, f"dvt/w{run}/part-0.parquet", ids)
            double.requests.clear()

            def fill(stage: Stage, files: str = files) -> list[str]:
                db.load_parquet(stage, files)
                return []

            staged_write(conn, df, WriteRequest(table=TableRef("orders", "ds"), mode=mode),  # type: ignore[arg-type]
                         open_session=lambda: db, fill=fill)
            queries = [b["configuration"].get("query", {}).get("query") or "load job"
                       for b in double.job_bodies()]
            stage = queries[0].split("`")[3]
            assert queries[0] == (f"CREATE TABLE `ds`.`{stage}` (`id` INT64, `label` STRING)")
            assert queries[1] == "load job"
            if run == 0:  # a new target: the stage is renamed
                assert queries[2:] == [f"ALTER TABLE `ds`.`{stage}` RENAME TO `orders`"]
            elif mode == "overwrite":
                assert queries[2:] == [f"CREATE OR REPLACE TABLE `ds`.`orders` COPY "
                                       f"`ds`.`{stage}`", f"DROP TABLE `ds`.`{stage}`"]
            else:
                assert queries[2:] == [
                    f"BEGIN TRANSACTION;\nINSERT INTO `ds`.`orders` (`id`, `label`) SELECT "
                    f"`id`, `label` FROM `ds`.`{stage}`;\nCOMMIT TRANSACTION;",
                    f"DROP TABLE IF EXISTS `ds`.`{stage}`"]
            assert not any("TRANSACTION" in q and ("CREATE" in q or "ALTER" in q or "DROP" in q)
                           for q in queries)
    finally:
        db.close()
    assert sorted(r["id"] for r in double.tables["orders"]["rows"]) == [3, 4, 5, 6]
    assert set(double.tables) == {"orders"}  # no staging table is left
