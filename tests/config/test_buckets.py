"""buckets.yml: the origin design's validation table, every rule enforced, plus `local` and
`endpoint_url`; the URIs and Hadoop settings each bucket gives."""

from __future__ import annotations

import json
import textwrap

import pytest

from dvt_connect import secrets
from dvt_connect.config import AzureBucket, GCSBucket, LocalBucket, S3Bucket, load_project
from dvt_connect.config.project import Project
from dvt_connect.errors import ConfigError, NotFoundError

from .conftest import PG_PROFILE, WriteConfig


def _buckets(write_config: WriteConfig, outputs: str, target: str | None = None) -> Project:
    body = textwrap.indent(textwrap.dedent(outputs).strip("\n"), "    ")
    head = f"default:\n  target: {target}\n" if target else "default:\n"
    return load_project(write_config(PG_PROFILE, head + "  outputs:\n" + body + "\n"))


# -- the validation table: one row per rule ------------------------------------------------------
INVALID = [
    # type: required, one of s3/gcs/azure/local
    ("b:\n  bucket: x", r"missing required field `type`; valid: s3, gcs, azure, local"),
    ("b:\n  type: hdfs\n  bucket: x", r"unknown bucket type `hdfs`; valid: `azure`, `gcs`"),
    # bucket / container: required, non-empty
    ("b:\n  type: s3\n  region: us-east-1", r"s3 bucket `b` is missing .*`bucket`"),
    ("b:\n  type: s3\n  bucket: ''\n  region: us-east-1", r"missing .*`bucket`"),
    ("b:\n  type: gcs\n  project: p", r"gcs bucket `b` is missing .*`bucket`"),
    ("b:\n  type: azure\n  storage_account: a\n  account_key: k",
     r"azure bucket `b` is missing .*`container`"),
    # region: S3 only, a valid AWS region
    ("b:\n  type: s3\n  bucket: x", r"s3 bucket `b` is missing .*`region`"),
    ("b:\n  type: s3\n  bucket: x\n  region: moon-base-1",
     r"`moon-base-1` is not a valid AWS region"),
    ("b:\n  type: gcs\n  bucket: x\n  project: p\n  region: us-east-1",
     r"unknown key `region` for a gcs bucket"),
    # project: GCS only
    ("b:\n  type: gcs\n  bucket: x", r"gcs bucket `b` is missing .*`project`"),
    ("b:\n  type: s3\n  bucket: x\n  region: us-east-1\n  project: p",
     r"unknown key `project` for a s3 bucket"),
    # storage_account: Azure only
    ("b:\n  type: azure\n  container: c\n  account_key: k",
     r"azure bucket `b` is missing .*`storage_account`"),
    # credentials: Azure needs one method; pairs must be complete; values must make sense
    ("b:\n  type: azure\n  storage_account: a\n  container: c",
     r"requires one of: `account_key`, `sas_token`, `connection_string`"),
    ("b:\n  type: azure\n  storage_account: a\n  container: c\n  connection_string: x=y",
     r"neither AccountKey nor SharedAccessSignature"),
    ("b:\n  type: s3\n  bucket: x\n  region: us-east-1\n  aws_access_key_id: AKIAEXAMPLE",
     r"`aws_access_key_id` and `aws_secret_access_key` must be given together"),
    ("b:\n  type: s3\n  bucket: x\n  region: us-east-1\n  role_arn: DVTRole",
     r"`role_arn` must be an ARN"),
    ("b:\n  type: gcs\n  bucket: x\n  project: p\n  credentials_json: '{not json'",
     r"`credentials_json` is not valid JSON"),
    ("b:\n  type: gcs\n  bucket: x\n  project: p\n  credentials_json: '{\"a\": 1}'",
     r"`credentials_json` is missing client_email"),
    # local: an absolute folder
    ("b:\n  type: local", r"local bucket `b` is missing .*`path`"),
    ("b:\n  type: local\n  path: relative/dir", r"`path` must be an absolute folder"),
    # structure: mapping, known keys, right types
    ("b: just-a-string", r"bucket output `b` must be a mapping with a `type`, not str"),
    ("b:\n  - type: s3", r"bucket output `b` must be a mapping.*not list"),
    ("b:", r"bucket output `b` must be a mapping.*not nothing"),
    ("b:\n  type: s3\n  bucket: x\n  region: us-east-1\n  regoin: us-east-1",
     r"unknown key `regoin` for a s3 bucket.*Did you mean `region`"),
    ("b:\n  type: s3\n  bucket: [x, y]\n  region: us-east-1", r"`bucket` must be a string"),
    ("b:\n  type: s3\n  bucket: x\n  region: us-east-1\n  prefix: true",
     r"`prefix` must be a string, not bool"),
]


@pytest.mark.parametrize(("outputs", "message"), INVALID,
                         ids=[f"{i:02d}" for i in range(len(INVALID))])
def test_invalid_bucket(write_config: WriteConfig, outputs: str, message: str) -> None:
    project = _buckets(write_config, outputs)
    with pytest.raises(ConfigError, match=message) as info:
        project.buckets  # noqa: B018 - parsing happens on first use
    text = str(info.value)
    assert text.startswith(str(project.paths.buckets)), text
    assert "default.outputs.b" in text


def test_bucket_results_report_each_bucket(write_config: WriteConfig) -> None:
    project = _buckets(write_config, """
        good:
          type: local
          path: /tmp/stage
        bad:
          type: azure
          storage_account: a
          container: c
    """)
    results = project.bucket_results()
    assert isinstance(results["good"], LocalBucket)
    assert isinstance(results["bad"], ConfigError)
    with pytest.raises(ConfigError, match="requires one of"):
        project.buckets  # noqa: B018


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n- b\n", "must be a mapping of profile names to bucket profiles"),
    ("default: [1]\n", "a bucket profile must be a mapping with `target` and `outputs`"),
    ("default:\n  outputs: {}\n  bucket: x\n", "unknown key `bucket`; valid keys: outputs"),
    ("default:\n  outputs: [a]\n", "`outputs` must be a mapping of bucket names"),
    ("default:\n  target: nope\n  outputs:\n    nop: {type: local, path: /tmp}\n",
     "unknown bucket `nope`.*Did you mean `nop`"),
])
def test_invalid_bucket_file_is_reported_when_buckets_are_used(
        write_config: WriteConfig, text: str, message: str) -> None:
    project = load_project(write_config(PG_PROFILE, text))
    assert project.connection().type == "postgres"  # profiles still load: `dvt debug` shows all
    assert project.buckets_error is not None
    with pytest.raises(ConfigError, match=message):
        project.buckets  # noqa: B018


# -- valid buckets: locations, Spark paths, Hadoop settings, credential methods -----------------
def test_s3_with_keys(write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3-secret-from-env")
    project = _buckets(write_config, """
        s3_staging:
          type: s3
          bucket: acme-staging
          prefix: dvt/federation/
          region: us-east-1
          aws_access_key_id: AKIAEXAMPLE
          aws_secret_access_key: "{{ env_var('AWS_SECRET_ACCESS_KEY') }}"
    """, target="s3_staging")
    bucket = project.bucket()
    assert isinstance(bucket, S3Bucket)
    assert bucket.warehouse_uri("t/1") == "s3://acme-staging/dvt/federation/t/1"
    assert bucket.spark_path("t/1") == "s3a://acme-staging/dvt/federation/t/1"
    conf = bucket.hadoop_conf()
    base = "spark.hadoop.fs.s3a.bucket.acme-staging."
    assert conf[base + "access.key"] == "AKIAEXAMPLE"
    assert conf[base + "secret.key"] == "s3-secret-from-env"
    assert conf[base + "endpoint.region"] == "us-east-1"
    assert conf[base + "aws.credentials.provider"].endswith("SimpleAWSCredentialsProvider")
    assert all(k.startswith("spark.hadoop.") for k in conf)
    assert bucket.credential_method() == "access keys"
    assert "s3-secret-from-env" not in repr(bucket)
    assert secrets.redact("x s3-secret-from-env") == f"x {secrets.MASK}"


def test_s3_role_profile_endpoint_and_ambient(write_config: WriteConfig) -> None:
    project = _buckets(write_config, """
        role:
          type: s3
          bucket: prod
          region: us-west-2
          role_arn: arn:aws:iam::123456789012:role/DVTProdRole
        minio:
          type: s3
          bucket: lake
          region: us-east-1
          endpoint_url: http://minio.internal:9000
          aws_profile: minio
        ambient:
          type: s3
          bucket: inst
          region: eu-west-1
    """)
    b = project.buckets
    role_conf = b["role"].hadoop_conf()
    assert role_conf["spark.hadoop.fs.s3a.bucket.prod.assumed.role.arn"].endswith("DVTProdRole")
    assert b["role"].credential_method() == "assume role arn:aws:iam::123456789012:role/DVTProdRole"
    minio_conf = b["minio"].hadoop_conf()
    assert minio_conf["spark.hadoop.fs.s3a.bucket.lake.endpoint"] == "http://minio.internal:9000"
    assert minio_conf["spark.hadoop.fs.s3a.bucket.lake.path.style.access"] == "true"
    assert b["minio"].credential_method() == "AWS profile `minio`"
    assert b["ambient"].credential_method().startswith("ambient")
    assert project.bucket() is None  # several buckets, no target


def test_gcs(write_config: WriteConfig) -> None:
    key = {"client_email": "dvt@p.iam.gserviceaccount.com", "private_key_id": "kid-0001",
           "private_key": "-----BEGIN PRIVATE KEY-----\nGCSKEYMATERIAL123\n-----END"}
    project = _buckets(write_config, f"""
        file:
          type: gcs
          bucket: bq-staging
          project: analytics
          credentials_path: /secure/sa.json
        inline:
          type: gcs
          bucket: bq-staging
          project: analytics
          credentials_json: '{json.dumps(key)}'
        adc:
          type: gcs
          bucket: bq-staging
          project: analytics
    """)
    b = project.buckets
    assert isinstance(b["file"], GCSBucket)
    assert b["file"].warehouse_uri("x") == b["file"].spark_path("x") == "gs://bq-staging/x"
    assert b["file"].hadoop_conf()["spark.hadoop.fs.gs.auth.service.account.json.keyfile"] == (
        "/secure/sa.json")
    assert b["inline"].credential_method() == "inline service-account JSON"
    assert "GCSKEYMATERIAL123" not in secrets.redact(json.dumps(b["inline"].hadoop_conf()))
    assert b["adc"].credential_method() == "ambient (application default credentials)"
    assert b["adc"].hadoop_conf()["spark.hadoop.fs.gs.auth.type"] == "APPLICATION_DEFAULT"


def test_azure(write_config: WriteConfig) -> None:
    project = _buckets(write_config, """
        key:
          type: azure
          storage_account: acmestore
          container: staging
          prefix: data/
          account_key: azure-account-key-value
        sas:
          type: azure
          storage_account: acmestore
          container: staging
          sas_token: "?sv=2024&sig=azure-sas-signature"
        conn:
          type: azure
          storage_account: acmestore
          container: staging
          connection_string: "{CONN}"
    """.replace("{CONN}", "DefaultEndpointsProtocol=https;AccountName=acmestore;"
                          "AccountKey=conn-string-key;EndpointSuffix=core.windows.net"))
    b = project.buckets
    key = b["key"]
    assert isinstance(key, AzureBucket)
    assert key.warehouse_uri("t") == "azure://acmestore.blob.core.windows.net/staging/data/t"
    assert key.spark_path("t") == "abfss://staging@acmestore.dfs.core.windows.net/data/t"
    host = "acmestore.dfs.core.windows.net"
    assert key.hadoop_conf()[f"spark.hadoop.fs.azure.account.key.{host}"] == (
        "azure-account-key-value")
    assert b["sas"].hadoop_conf()[f"spark.hadoop.fs.azure.sas.fixed.token.{host}"] == (
        "sv=2024&sig=azure-sas-signature")
    assert b["conn"].hadoop_conf()[f"spark.hadoop.fs.azure.account.key.{host}"] == (
        "conn-string-key")
    assert [x.credential_method() for x in b.values()] == [
        "account key", "SAS token", "connection string"]
    shown = secrets.redact(repr(b) + str([x.display() for x in b.values()]))
    for secret in ("azure-account-key-value", "azure-sas-signature", "conn-string-key"):
        assert secret not in shown


def test_local(write_config: WriteConfig, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = _buckets(write_config, f"""
        dev:
          type: local
          path: {tmp_path}/stage
          prefix: runs
    """)
    bucket = project.bucket()  # the only bucket is the target
    assert isinstance(bucket, LocalBucket)
    assert bucket.spark_path("t") == f"file://{tmp_path}/stage/runs/t"
    assert bucket.local_path("t") == tmp_path / "stage" / "runs" / "t"
    assert bucket.hadoop_conf() == {}
    assert bucket.credential_method() == "local filesystem"


def test_buckets_follow_the_profile_else_default(write_config: WriteConfig) -> None:
    buckets = """
        default:
          outputs:
            d: {type: local, path: /tmp/d}
        other:
          target: o
          outputs:
            o: {type: local, path: /tmp/o}
    """
    profiles = PG_PROFILE + textwrap.indent(textwrap.dedent("""
        other:
          target: dev
          outputs:
            dev: {type: derby, path: /tmp/x}
    """), "    ")
    folder = write_config(profiles, buckets)
    assert list(load_project(folder).buckets) == ["d"]
    other = load_project(folder, "other")
    assert (other.bucket_profile, other.bucket_target, list(other.buckets)) == (
        "other", "o", ["o"])
    with pytest.raises(NotFoundError, match="unknown bucket `x`"):
        other.bucket("x")


def test_template_and_empty_files_load_as_no_buckets(write_config: WriteConfig) -> None:
    from dvt_connect.setup_files import template_text

    for text in ("", "# nothing\n", template_text("buckets.yml")):
        project = load_project(write_config(PG_PROFILE, text))
        assert project.buckets == {}
        assert project.bucket() is None
