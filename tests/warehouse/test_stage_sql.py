"""The stage-native statements per warehouse, exactly, against each vendor's documented syntax,
with every credential masked in what is shown; and how the path is chosen (pure: no Spark).

Syntax checked against: Snowflake COPY INTO <location> and COPY INTO <table>
(docs.snowflake.com/en/sql-reference/sql/copy-into-location, .../copy-into-table); Redshift
UNLOAD, COPY authorization parameters and FORMAT AS PARQUET (docs.aws.amazon.com/redshift/latest/
dg/r_UNLOAD.html, copy-parameters-authorization.html); BigQuery EXPORT DATA
(cloud.google.com/bigquery/docs/reference/standard-sql/export-statements) and the load job's
JobConfigurationLoad (cloud.google.com/bigquery/docs/reference/rest/v2/Job).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dvt_connect import secrets
from dvt_connect.config.buckets import parse_bucket
from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.base import ConnectorType
from dvt_connect.connectors.selection import choose_connector
from dvt_connect.connectors.stage_native.sql import (
    auth_clause,
    load_statement,
    unload_statement,
    warehouse_uri,
)
from dvt_connect.errors import ConfigError

KEY_ID = "AKIAEXAMPLEKEYID0001"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789"
ROLE = "arn:aws:iam::123456789012:role/dvt-unload"
UNAVAILABLE = "its Spark connector jars are not in the jars folder"


def output(kind: str, **extra: Any):  # type: ignore[no-untyped-def]
    base: dict[str, Any] = {
        "snowflake": {"type": "snowflake", "account": "acme", "user": "u", "password": "pw-123",
                      "database": "D"},
        "redshift": {"type": "redshift", "host": "rs.example.com", "user": "u",
                     "password": "pw-123", "dbname": "dev"},
        "bigquery": {"type": "bigquery", "project": "proj", "dataset": "ds"},
    }[kind]
    return parse_connection("wh", {**base, **extra}, path=Path("profiles.yml"),
                            key="p.outputs.wh")


def bucket(kind: str = "s3", **fields: Any):  # type: ignore[no-untyped-def]
    spec = {"type": kind, "bucket": "lake", **fields}
    if kind == "s3":
        spec["region"] = "us-east-1"
    if kind == "gcs":
        spec["project"] = "proj"
    if kind == "azure":
        spec = {"type": "azure", "storage_account": "acmelake", "container": "stage", **fields}
    return parse_bucket("stage", spec, path=Path("buckets.yml"), key="default.outputs.stage")


def keyed():  # type: ignore[no-untyped-def]
    return bucket(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)


def statements(kind: str, b: Any, **extra: Any) -> tuple[Any, Any]:
    conn = output(kind, **extra)
    stage = conn.facts.stage
    uri = warehouse_uri(stage, b, b.spark_path("dvt/run1/"))
    auth = auth_clause(stage, b, conn)
    return (unload_statement(stage, 'SELECT "ID", "NOTE" FROM "PUBLIC"."ORDERS"', uri, auth),
            load_statement(stage, '"PUBLIC"."ORDERS__stage"', uri, auth))


def _assert_snowflake_copies(unload: Any, load: Any, uri: str, creds: str, masked: str) -> None:
    """Snowflake's COPY INTO <location> and COPY INTO <table> through ``uri``, exactly, with
    ``creds`` sent and ``masked`` shown."""
    assert unload.sql == (f"COPY INTO '{uri}' FROM (SELECT \"ID\", \"NOTE\" FROM "
                          f"\"PUBLIC\".\"ORDERS\") {creds} FILE_FORMAT = (TYPE = PARQUET) "
                          "HEADER = TRUE")
    assert load.sql == (f"COPY INTO \"PUBLIC\".\"ORDERS__stage\" FROM '{uri}' {creds} "
                        "FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE")
    assert unload.shown == unload.sql.replace(creds, masked)
    assert load.shown == load.sql.replace(creds, masked)


def test_snowflake_copy_into_location_and_table_with_the_buckets_keys() -> None:
    unload, load = statements("snowflake", bucket(aws_access_key_id=KEY_ID,
                                                  aws_secret_access_key=SECRET,
                                                  aws_session_token=TOKEN))
    creds = (f"CREDENTIALS = (AWS_KEY_ID = '{KEY_ID}' AWS_SECRET_KEY = '{SECRET}' "
             f"AWS_TOKEN = '{TOKEN}')")
    _assert_snowflake_copies(unload, load, "s3://lake/dvt/run1/", creds, "CREDENTIALS = ("
                             "AWS_KEY_ID = '****' AWS_SECRET_KEY = '****' AWS_TOKEN = '****')")
    for value in (KEY_ID, SECRET, TOKEN):
        assert value not in unload.shown + load.shown
        assert value not in secrets.redact(unload.sql)  # registered: masked wherever printed


def test_snowflake_storage_integration_comes_before_keys_and_gcs_is_gcs() -> None:
    unload, load = statements("snowflake", keyed(), storage_integration="DVT_S3")
    assert unload.sql == unload.shown
    assert " STORAGE_INTEGRATION = DVT_S3 FILE_FORMAT" in unload.sql and KEY_ID not in unload.sql
    unload, _ = statements("snowflake", bucket("gcs"), storage_integration="DVT_GCS")
    assert unload.sql.startswith("COPY INTO 'gcs://lake/dvt/run1/' FROM (")


SAS = "sv=2024-11-04&ss=b&srt=co&sp=rwdlac&se=2030-01-01T00:00:00Z&sig=dvtTestSig%3D"


def test_snowflake_on_azure_with_the_containers_sas_token() -> None:
    unload, load = statements("snowflake", bucket("azure", sas_token="?" + SAS))
    _assert_snowflake_copies(unload, load,
                             "azure://acmelake.blob.core.windows.net/stage/dvt/run1/",
                             f"CREDENTIALS = (AZURE_SAS_TOKEN = '{SAS}')",
                             "CREDENTIALS = (AZURE_SAS_TOKEN = '****')")
    assert SAS not in secrets.redact(unload.sql)
    # Spark writes the same folder through abfss (hadoop-azure, from `dvt sync --bucket azure`)
    b = bucket("azure", sas_token=SAS, prefix="lake")
    assert b.spark_path("dvt/run1/") == "abfss://stage@acmelake.dfs.core.windows.net/lake/dvt/run1"
    stage = output("snowflake").facts.stage
    assert warehouse_uri(stage, b, b.spark_path("dvt/run1/")) == (
        "azure://acmelake.blob.core.windows.net/stage/lake/dvt/run1/")


def test_snowflake_on_azure_takes_the_sas_from_a_connection_string_or_an_integration() -> None:
    conn_string = ("DefaultEndpointsProtocol=https;AccountName=acmelake;"
                   f"SharedAccessSignature={SAS}")
    unload, _ = statements("snowflake", bucket("azure", connection_string=conn_string))
    assert f" CREDENTIALS = (AZURE_SAS_TOKEN = '{SAS}') FILE_FORMAT" in unload.sql
    unload, _ = statements("snowflake", bucket("azure", sas_token=SAS),
                           storage_integration="DVT_AZURE")
    assert " STORAGE_INTEGRATION = DVT_AZURE FILE_FORMAT" in unload.sql and SAS not in unload.sql


def test_snowflake_on_azure_with_only_an_account_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"cannot reach bucket `stage`: it needs "
                       r"`storage_integration:` on the output or the bucket's `sas_token`\."):
        statements("snowflake", bucket("azure", account_key="a2V5"))


def test_redshift_and_bigquery_do_not_unload_to_azure() -> None:
    choice = choose_connector(output("redshift"), {"stage": bucket("azure", sas_token=SAS)},
                              unavailable=UNAVAILABLE)
    assert choice.connector is ConnectorType.JDBC
    choice = choose_connector(output("snowflake"), {"stage": bucket("azure", sas_token=SAS)},
                              unavailable=UNAVAILABLE)
    assert choice.connector is ConnectorType.SNOWFLAKE_UNLOAD
    assert choice.reason.startswith("stage-native: Snowflake unloads to `stage` (azure)")


def test_snowflake_without_integration_or_keys_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot reach bucket `stage`: it needs "
                       "`storage_integration:` on the output or the bucket's"):
        statements("snowflake", bucket())


def test_redshift_unload_and_copy_with_an_iam_role() -> None:
    unload, load = statements("redshift", bucket(role_arn=ROLE))
    assert unload.sql == ("UNLOAD ('SELECT \"ID\", \"NOTE\" FROM \"PUBLIC\".\"ORDERS\"') "
                          f"TO 's3://lake/dvt/run1/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET")
    assert load.sql == ("COPY \"PUBLIC\".\"ORDERS__stage\" FROM 's3://lake/dvt/run1/' "
                        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET")
    assert unload.shown == unload.sql  # a role ARN is not a secret


def test_redshift_keys_are_masked_and_quotes_in_the_query_doubled() -> None:
    conn = output("redshift")
    b = bucket(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
               aws_session_token=TOKEN)
    stage = conn.facts.stage
    auth = auth_clause(stage, b, conn)
    unload = unload_statement(stage, "SELECT * FROM t WHERE s = 'x'", "s3://lake/p/", auth)
    assert unload.sql == ("UNLOAD ('SELECT * FROM t WHERE s = ''x''') TO 's3://lake/p/' "
                          f"ACCESS_KEY_ID '{KEY_ID}' SECRET_ACCESS_KEY '{SECRET}' "
                          f"SESSION_TOKEN '{TOKEN}' FORMAT AS PARQUET")
    assert unload.shown == ("UNLOAD ('SELECT * FROM t WHERE s = ''x''') TO 's3://lake/p/' "
                            "ACCESS_KEY_ID '****' SECRET_ACCESS_KEY '****' "
                            "SESSION_TOKEN '****' FORMAT AS PARQUET")


def test_bigquery_export_data_and_load_data_carry_no_credentials() -> None:
    unload, load = statements("bigquery", bucket("gcs"))
    assert unload.sql == ("EXPORT DATA OPTIONS (uri = 'gs://lake/dvt/run1/*.parquet', "
                          "format = 'PARQUET', overwrite = true) AS SELECT \"ID\", \"NOTE\" "
                          "FROM \"PUBLIC\".\"ORDERS\"")
    # the way in is a load job (tests/warehouse/test_bigquery_client.py runs it); this is
    # what plans and notes say it is told
    assert load.shown == ("load job: sourceUris = ['gs://lake/dvt/run1/*.parquet'], "
                          "sourceFormat = PARQUET, destinationTable = "
                          "\"PUBLIC\".\"ORDERS__stage\", writeDisposition = WRITE_APPEND")
    assert output("bigquery").facts.stage.load_job
    assert unload.sql == unload.shown


# -- selection ------------------------------------------------------------------------------------

def test_no_connector_release_here_chooses_the_unload_path_and_says_why() -> None:
    choice = choose_connector(output("snowflake"), {"stage": keyed()}, unavailable=UNAVAILABLE)
    assert choice.connector is ConnectorType.SNOWFLAKE_UNLOAD
    assert choice.reason == ("stage-native: Snowflake unloads to `stage` (s3) and Spark reads "
                             "the Parquet; no Spark connector for snowflake can run here "
                             f"({UNAVAILABLE})")
    choice = choose_connector(output("redshift"), {"stage": keyed()}, mode="native",
                              unavailable=UNAVAILABLE)
    assert choice.connector is ConnectorType.REDSHIFT_UNLOAD
    choice = choose_connector(output("bigquery"), {"stage": bucket("gcs")},
                              unavailable=UNAVAILABLE)
    assert choice.connector is ConnectorType.BIGQUERY_UNLOAD


def test_the_vendor_connector_stays_first_when_it_can_run() -> None:
    choice = choose_connector(output("snowflake"), {"stage": keyed()})
    assert choice.connector is ConnectorType.SNOWFLAKE_NATIVE


def test_native_path_setting_forces_either_path() -> None:
    choice = choose_connector(output("snowflake", native_path="unload"), {"stage": keyed()})
    assert choice.connector is ConnectorType.SNOWFLAKE_UNLOAD
    assert choice.reason.endswith("`native_path: unload` is set")
    choice = choose_connector(output("snowflake", native_path="connector"), {"stage": keyed()},
                              unavailable=UNAVAILABLE)
    assert choice.connector is ConnectorType.JDBC and choice.reason == UNAVAILABLE


def test_an_unknown_native_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"`native_path: copy` is not valid for snowflake; "
                       r"valid: connector, unload\."):
        choose_connector(output("snowflake", native_path="copy"), {"stage": keyed()})


def test_unload_without_a_fitting_bucket_warns_and_uses_jdbc() -> None:
    choice = choose_connector(output("redshift"), {"stage": bucket("gcs")},
                              unavailable=UNAVAILABLE)
    assert choice.connector is ConnectorType.JDBC
    assert choice.warnings == ("Redshift's stage-native path (its own unload to a bucket) is "
                               "available, but no s3 bucket is configured. Falling back to "
                               "JDBC.",)


def test_a_small_table_still_goes_over_jdbc() -> None:
    choice = choose_connector(output("snowflake"), {"stage": keyed()}, estimated_rows=10,
                              unavailable=UNAVAILABLE)
    assert choice.connector is ConnectorType.JDBC


# -- the unload type contract ---------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "type_name", "exact"), [
    ("snowflake", "NUMBER", True), ("snowflake", "TIMESTAMPNTZ", True),
    ("snowflake", "TIMESTAMP_LTZ", True), ("snowflake", "VARIANT", True),
    ("snowflake", "TIMESTAMP_TZ", False), ("snowflake", "TIME", False),
    ("redshift", "timestamptz", True), ("redshift", "super", False), ("redshift", "time", False),
    ("bigquery", "NUMERIC", True), ("bigquery", "BIGNUMERIC", False),
    ("bigquery", "DATETIME", False),
])
def test_unloaded_types_are_exact_or_refused(kind: str, type_name: str, exact: bool) -> None:
    rule = output(kind).facts.stage.types.rule(type_name)
    assert rule is not None and rule.exact is exact and (exact or rule.why)


def test_debug_lists_no_connector_jar_for_the_unload_path() -> None:
    from dvt_connect.doctor import jar_status
    from dvt_connect.jars.manifest import Manifest
    from dvt_connect.jars.spark_versions import installed_spark

    conn = output("snowflake", native_path="unload")
    choice = choose_connector(conn, {"stage": keyed()})
    status = jar_status(conn, choice, installed_spark(), Manifest(Path("/nonexistent")))
    assert status.needs == ["adapter:snowflake", "bucket:s3"]


# -- the plan a --dry-run shows (the double answers the warehouse's describe; no Spark) --------

@pytest.mark.parametrize(("kind", "b", "table", "expected"), [
    ("snowflake", keyed, "PUBLIC.ORDERS",
     "COPY INTO 's3://lake/dvt/{run}/' FROM (SELECT * FROM \"PUBLIC\".\"ORDERS\") CREDENTIALS = "
     "(AWS_KEY_ID = '****' AWS_SECRET_KEY = '****') FILE_FORMAT = (TYPE = PARQUET) "
     "HEADER = TRUE"),
    ("redshift", keyed, "public.orders",
     "UNLOAD ('SELECT * FROM \"public\".\"orders\"') TO 's3://lake/dvt/{run}/' ACCESS_KEY_ID "
     "'****' SECRET_ACCESS_KEY '****' FORMAT AS PARQUET"),
    ("bigquery", lambda: bucket("gcs"), "ds.orders",
     "EXPORT DATA OPTIONS (uri = 'gs://lake/dvt/{run}/*.parquet', format = 'PARQUET', "
     "overwrite = true) AS SELECT * FROM `ds`.`orders`"),
])
def test_each_warehouse_plans_its_unload_with_credentials_masked(
        kind: str, b: Any, table: str, expected: str, tmp_path: Path) -> None:
    import re

    from dvt_connect.connectors.base import ReadRequest, TableRef
    from dvt_connect.connectors.factory import connector_class
    from dvt_connect.connectors.stage_native.executor import use_executor

    from .doubles import WarehouseDouble

    double = WarehouseDouble(kind, "http://127.0.0.1:1", "us-east-1", tmp_path)
    double.held[table.split(".")[1]] = {"parquet": "", "types": [["ID", "NUMBER", 38, 0]]}
    cls = connector_class(ConnectorType.unload(kind))
    connector = cls(None, output(kind), bucket=b())  # type: ignore[arg-type]
    with use_executor(kind, double.session):
        plan = connector.plan_read(ReadRequest(table=TableRef.parse(table)), reason="why")
    [shown] = plan.describe()["statements"]
    run = re.search(r"/dvt/([^/]+)/", shown).group(1)  # type: ignore[union-attr]
    assert shown == expected.format(run=run)
    assert plan.connector is ConnectorType.unload(kind)
    assert KEY_ID not in str(plan.describe()) and SECRET not in str(plan.describe())
    assert connector.staged_folders == (plan.staged,)  # type: ignore[attr-defined]
    assert double.statements() == []  # planning runs no statement
