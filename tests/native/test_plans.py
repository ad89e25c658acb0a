"""The options each native connector sends, planned without Spark (plans are pure).

Every option name asserted here was checked against the connector's own source and docs (see the
comments in dvt_connect/connectors/{snowflake,bigquery,redshift}.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dvt_connect.config import Project
from dvt_connect.connectors.base import ConnectorType, ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.bigquery import BigQueryNativeConnector
from dvt_connect.connectors.native import NativeConnector, clean_options
from dvt_connect.connectors.redshift import RedshiftNativeConnector
from dvt_connect.connectors.snowflake import SnowflakeNativeConnector, snowflake_url
from dvt_connect.errors import ConfigError, DvtError, UsageError

from .conftest import SECRETS, secret_values

ORDERS = ReadRequest(table=TableRef.parse("PUBLIC.ORDERS"))
SF_PUBLIC = {
    "sfURL": "xy12345.us-east-1.snowflakecomputing.com",
    "sfUser": "LOADER",
    "sfDatabase": "ANALYTICS",
    "sfSchema": "PUBLIC",
    "sfWarehouse": "TRANSFORMING",
    "sfRole": "LOADER_ROLE",
}
RS_URL = "jdbc:redshift://examplecluster.abc123.us-east-1.redshift.amazonaws.com:5439/dev"


def connector(project: Project, cls: type[NativeConnector], output: str,
              bucket: str | None = None) -> Any:
    """A connector as the factory builds it; plans never touch Spark, so none is given."""
    return cls(None, project.connection(output),  # type: ignore[arg-type]
               bucket=project.bucket(bucket) if bucket else None)


def assert_no_secret(text: str) -> None:
    for value in secret_values():
        assert value not in text
        for line in value.splitlines():
            if len(line) >= 8:
                assert line not in text


# -- Snowflake ----------------------------------------------------------------------------------
def test_snowflake_table_read_sends_connection_options_and_quoted_dbtable(project: Project):
    sf = connector(project, SnowflakeNativeConnector, "snow", bucket="s3_role")
    plan = sf.plan_read(ORDERS, reason="about 2,000,000 rows")
    assert plan.connector is ConnectorType.SNOWFLAKE_NATIVE
    assert dict(plan.options) == {**SF_PUBLIC, "dbtable": '"PUBLIC"."ORDERS"'}
    assert sf.secret_values() == {"sfPassword": SECRETS["DVT_TEST_SF_PASSWORD"]}
    assert [p.predicate for p in plan.partitions] == [None]
    assert "export decides" in plan.notes[0]
    # spark-snowflake stages in Snowflake's internal stage: the bucket is named as unused
    assert plan.bucket is None
    assert any("`s3_role` is not used" in n for n in plan.notes)


def test_snowflake_columns_and_where_become_a_query_with_quoted_names(project: Project):
    sf = connector(project, SnowflakeNativeConnector, "snow")
    request = ReadRequest(table=TableRef.parse("ORDERS"), columns=("ID", 'we"ird'),
                          where="AMOUNT > 10")
    plan = sf.plan_read(request)
    assert "dbtable" not in plan.options
    assert plan.options["query"] == 'SELECT "ID", "we""ird" FROM "ORDERS" WHERE (AMOUNT > 10)'
    assert plan.sql == plan.options["query"]


def test_snowflake_query_read_passes_the_query(project: Project):
    sf = connector(project, SnowflakeNativeConnector, "snow")
    plan = sf.plan_read(ReadRequest(query="select 1 as x"))
    assert plan.options["query"] == "select 1 as x"
    assert plan.source == "query"


def test_snowflake_key_pair_sends_the_pkcs8_body(project: Project):
    sf = connector(project, SnowflakeNativeConnector, "snow_key")
    plan = sf.plan_read(ORDERS)
    assert plan.options["sfURL"] == "xy12345.eu-central-1.snowflakecomputing.com"
    assert "sfSchema" not in plan.options  # unset: the connector's default (public) applies
    body = sf.secret_values()["pem_private_key"]
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", body) and body.startswith("MIIE")
    assert "pem_private_key" not in plan.options


@pytest.mark.parametrize("output, message", [
    ("snow_encrypted_key", "private key is encrypted"),
    ("snow_pkcs1_key", "is PKCS#1, not PKCS#8"),
    ("snow_passphrase", "takes an unencrypted PKCS#8 key"),
    ("snow_browser", "`externalbrowser` is not one of them"),
    ("snow_no_db", "needs `database`"),
])
def test_snowflake_authentication_the_connector_cannot_use_is_one_clear_error(
        project: Project, output: str, message: str):
    sf = connector(project, SnowflakeNativeConnector, output)
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        sf.plan_read(ORDERS)
    assert f"{output}." in str(error.value)  # names the key
    assert_no_secret(str(error.value))


def test_snowflake_oauth_sends_authenticator_and_token(project: Project):
    sf = connector(project, SnowflakeNativeConnector, "snow_oauth")
    assert sf.secret_values() == {"sfToken": SECRETS["DVT_TEST_SF_TOKEN"]}
    assert sf.plan_read(ORDERS).options["sfAuthenticator"] == "oauth"


def test_snowflake_write_keeps_the_staging_table_on(project: Project):
    sf = connector(project, SnowflakeNativeConnector, "snow")
    options, location, notes = sf.write_spec(WriteRequest(table=TableRef.parse("PUBLIC.T")))
    assert options["dbtable"] == '"PUBLIC"."T"'
    assert options["usestagingtable"] == "on"
    assert "tempdir" not in options
    assert any("staging table" in n for n in notes)
    assert location.endswith('"PUBLIC"."T"')


@pytest.mark.parametrize("account, url", [
    ("xy12345", "xy12345.snowflakecomputing.com"),
    ("xy12345.us-east-1", "xy12345.us-east-1.snowflakecomputing.com"),
    ("https://org-acct.snowflakecomputing.com/", "org-acct.snowflakecomputing.com"),
])
def test_snowflake_url_from_dbt_account(account: str, url: str):
    assert snowflake_url(account) == url


# -- BigQuery -----------------------------------------------------------------------------------
def test_bigquery_table_read_options(project: Project):
    bq = connector(project, BigQueryNativeConnector, "bq", bucket="gcs")
    plan = bq.plan_read(ReadRequest(table=TableRef.parse("orders")))
    assert dict(plan.options) == {
        "parentProject": "acme-billing",
        "readDataFormat": "ARROW",
        "path": "acme-data.sales.orders",
        "viewsEnabled": "true",
        "materializationProject": "acme-data",
        "materializationDataset": "sales",
    }
    secret = bq.secret_values()["credentials"]
    key = json.loads(__import__("base64").b64decode(secret))
    assert key["private_key"] == SECRETS["DVT_TEST_GCP_KEY"]
    assert plan.bucket is None  # reads stream from the Storage API; nothing is staged
    assert plan.sql == "SELECT * FROM `acme-data.sales.orders`"


def test_bigquery_where_is_a_filter_columns_a_projection_partitions_max_parallelism(
        project: Project):
    bq = connector(project, BigQueryNativeConnector, "bq")
    plan = bq.plan_read(ReadRequest(table=TableRef.parse("other.orders"), columns=("id", "name"),
                                    where="amount > 10", partitions=8))
    assert plan.options["path"] == "acme-data.other.orders"
    assert plan.options["materializationDataset"] == "other"
    assert plan.options["filter"] == "amount > 10"
    assert plan.options["maxParallelism"] == "8"
    assert json.loads(plan.options["dvt.select"]) == ["id", "name"]
    assert "ignored" not in plan.notes[0]


def test_bigquery_query_read_materializes_in_the_dataset(project: Project):
    bq = connector(project, BigQueryNativeConnector, "bq")
    plan = bq.plan_read(ReadRequest(query="SELECT 1 AS x"))
    assert plan.options["query"] == "SELECT 1 AS x"
    assert plan.options["viewsEnabled"] == "true"
    assert plan.options["materializationDataset"] == "sales"
    assert "path" not in plan.options


def test_bigquery_query_without_a_dataset_is_an_error(project: Project):
    bq = connector(project, BigQueryNativeConnector, "bq_oauth")
    with pytest.raises(ConfigError, match="set `dataset` on the output"):
        bq.plan_read(ReadRequest(query="SELECT 1"))


def test_bigquery_keyfile_and_application_default_credentials(project: Project):
    assert connector(project, BigQueryNativeConnector, "bq_file").base_options()[
        "credentialsFile"].endswith("gcp.json")
    oauth = connector(project, BigQueryNativeConnector, "bq_oauth")
    assert oauth.base_options() == {"parentProject": "acme-data"}


def test_bigquery_refresh_token_alone_is_an_error(project: Project):
    bq = connector(project, BigQueryNativeConnector, "bq_refresh_only")
    with pytest.raises(ConfigError, match="needs an access `token`"):
        bq.plan_read(ORDERS)


@pytest.mark.parametrize("table", ["sales.or`ders", "sales.a:b", "bad-dataset.orders"])
def test_bigquery_names_are_checked_not_spliced(project: Project, table: str):
    bq = connector(project, BigQueryNativeConnector, "bq")
    with pytest.raises(UsageError, match="is not a BigQuery"):
        bq.plan_read(ReadRequest(table=TableRef.parse(table)))


def test_bigquery_write_stages_in_the_gcs_bucket(project: Project):
    bq = connector(project, BigQueryNativeConnector, "bq", bucket="gcs")
    options, location, notes = bq.write_spec(WriteRequest(table=TableRef.parse("orders")))
    assert location == "acme-data.sales.orders"
    assert options["path"] == "acme-data.sales.orders"
    assert options["writeMethod"] == "indirect"
    assert re.fullmatch(r"gs://acme-staging/dvt-stage/dvt/\d{8}T\d{6}Z-[0-9a-f]{12}",
                        options["temporaryGcsBucket"])
    assert options["spark.sql.sources.partitionOverwriteMode"] == "STATIC"
    assert any("WRITE_TRUNCATE" in n for n in notes)


def test_bigquery_write_without_a_bucket_is_an_error(project: Project):
    bq = connector(project, BigQueryNativeConnector, "bq")
    with pytest.raises(ConfigError, match="stages through a gcs bucket"):
        bq.write_spec(WriteRequest(table=TableRef.parse("orders")))


# -- Redshift -----------------------------------------------------------------------------------
def test_redshift_read_with_a_role_uses_aws_iam_role_and_a_unique_tempdir(project: Project):
    rs = connector(project, RedshiftNativeConnector, "rs", bucket="s3_role")
    first = rs.plan_read(ORDERS)
    second = rs.plan_read(ORDERS)
    tempdir = first.options["tempdir"]
    assert re.fullmatch(r"s3a://acme-staging/transfers/dvt/\d{8}T\d{6}Z-[0-9a-f]{12}", tempdir)
    assert tempdir != second.options["tempdir"]
    assert dict(first.options) == {
        "url": RS_URL,
        "jdbcdriver": "com.amazon.redshift.jdbc42.Driver",
        "user": "loader",
        "jdbc.sslmode": "require",
        "aws_iam_role": "arn:aws:iam::123456789012:role/RedshiftStaging",
        "tempdir_region": "us-east-1",
        "dbtable": '"PUBLIC"."ORDERS"',
        "tempdir": tempdir,
        "unload_s3_format": "PARQUET",
    }
    assert rs.secret_values() == {"password": SECRETS["DVT_TEST_RS_PASSWORD"]}
    assert first.bucket is not None and first.bucket.name == "s3_role"
    assert rs.staged_paths == (tempdir, second.options["tempdir"])


@pytest.mark.parametrize("bucket, mechanism", [
    ("s3_role", {"aws_iam_role"}),
    ("s3_session", {"temporary_aws_access_key_id", "temporary_aws_secret_access_key",
                    "temporary_aws_session_token"}),
    ("s3_keys", {"forward_spark_s3_credentials"}),
    ("s3_ambient", {"forward_spark_s3_credentials"}),
    ("local", {"forward_spark_s3_credentials"}),
])
def test_redshift_uses_exactly_one_s3_authentication(project: Project, bucket: str,
                                                     mechanism: set[str]):
    rs = connector(project, RedshiftNativeConnector, "rs", bucket=bucket)
    options = {**rs.plan_read(ORDERS).options, **rs.secret_values()}
    auth = {"aws_iam_role", "forward_spark_s3_credentials", "temporary_aws_access_key_id",
            "temporary_aws_secret_access_key", "temporary_aws_session_token"}
    assert set(options) & auth == mechanism
    if bucket == "s3_session":
        assert options["temporary_aws_session_token"] == SECRETS["DVT_TEST_AWS_TOKEN"]
        assert "temporary_aws_session_token" not in rs.plan_read(ORDERS).options


def test_redshift_static_keys_say_how_redshift_gets_credentials(project: Project):
    rs = connector(project, RedshiftNativeConnector, "rs", bucket="s3_keys")
    assert any("does not read the bucket's keys" in n for n in rs.plan_read(ORDERS).notes)


def test_redshift_url_with_credentials_stays_out_of_the_plan(project: Project):
    rs = connector(project, RedshiftNativeConnector, "rs_url_creds", bucket="s3_role")
    plan = rs.plan_read(ORDERS)
    assert "url" not in plan.options and "user" not in plan.options
    assert set(rs.secret_values()) == {"url"}


def test_redshift_needs_a_bucket_and_a_database_user(project: Project):
    with pytest.raises(ConfigError, match="stages through a s3 bucket"):
        connector(project, RedshiftNativeConnector, "rs").plan_read(ORDERS)
    with pytest.raises(ConfigError, match="`method: iam` is not supported"):
        connector(project, RedshiftNativeConnector, "rs_iam", bucket="s3_role").plan_read(ORDERS)


def test_a_bucket_of_the_wrong_type_is_refused(project: Project):
    with pytest.raises(ConfigError, match="bucket `gcs` is gcs; the redshift connector stages "
                                          "through s3 buckets"):
        connector(project, RedshiftNativeConnector, "rs", bucket="gcs")


def test_redshift_write_options(project: Project):
    rs = connector(project, RedshiftNativeConnector, "rs", bucket="s3_role")
    options, location, notes = rs.write_spec(WriteRequest(table=TableRef.parse("public.t")))
    assert options["dbtable"] == '"public"."t"'
    assert options["tempformat"] == "CSV GZIP"
    assert options["include_column_list"] == "true"
    assert "usestagingtable" not in options  # deprecated; its default (true) is the safe one
    assert options["tempdir"].startswith("s3a://acme-staging/transfers/dvt/")
    assert location.endswith(':5439/dev "public"."t"')
    assert any("one transaction" in n for n in notes)


# -- all of them ----------------------------------------------------------------------------------
CASES = [
    (SnowflakeNativeConnector, "snow", None),
    (SnowflakeNativeConnector, "snow_key", "local"),
    (SnowflakeNativeConnector, "snow_oauth", None),
    (BigQueryNativeConnector, "bq", "gcs"),
    (BigQueryNativeConnector, "bq_file", "gcs"),
    (RedshiftNativeConnector, "rs", "s3_role"),
    (RedshiftNativeConnector, "rs", "s3_session"),
    (RedshiftNativeConnector, "rs", "s3_ambient"),
    (RedshiftNativeConnector, "rs_url_creds", "s3_keys"),
]
REQUESTS = [
    ReadRequest(table=TableRef.parse("sales.orders")),
    ReadRequest(table=TableRef.parse("sales.orders"), columns=("id",), where="id > 1"),
    ReadRequest(query="select 1"),
]


@pytest.mark.parametrize("cls, output, bucket", CASES)
def test_no_option_is_ever_none_and_no_secret_reaches_the_plan(project: Project, cls: Any,
                                                               output: str, bucket: str | None):
    native = connector(project, cls, output, bucket)
    for request in REQUESTS:
        plan = native.plan_read(request)
        sent = {**plan.options, **native.secret_values()}
        assert all(isinstance(v, str) and v not in ("", "None") for v in sent.values())
        assert_no_secret(json.dumps(plan.describe()))
        assert_no_secret(repr(plan))
        assert_no_secret(json.dumps(dict(plan.options)))
    options, location, notes = native.write_spec(WriteRequest(table=TableRef.parse("s.t")))
    assert all(isinstance(v, str) and v not in ("", "None") for v in options.values())
    assert_no_secret(location + " ".join(notes))
    assert_no_secret(repr(native))


def test_clean_options_drops_unset_values_and_refuses_the_text_none():
    assert clean_options({"a": None, "b": "", "c": True, "d": 3, "e": "x"}) == {
        "c": "true", "d": "3", "e": "x"}
    with pytest.raises(DvtError, match="`aws_iam_role` was about to be sent as 'None'"):
        clean_options({"aws_iam_role": "None"})


def test_partition_by_is_refused_before_anything_moves(project: Project):
    sf = connector(project, SnowflakeNativeConnector, "snow")
    with pytest.raises(UsageError, match="--partition-by is for file targets"):
        sf.write_dataframe(None, WriteRequest(table=TableRef.parse("t"), partition_by=("d",)))
