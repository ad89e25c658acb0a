"""Configuration for the native-connector tests: real profiles.yml and buckets.yml files loaded by
the real loader (secrets through ``env_var``), and the connector doubles at the Spark boundary."""

from __future__ import annotations

import base64
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.config import Project, load_project

SECRETS = {
    "DVT_TEST_SF_PASSWORD": "sf-Pa55word-4c1d",
    "DVT_TEST_SF_TOKEN": "sf-oauth-token-9f8e7d",
    "DVT_TEST_RS_PASSWORD": "rs-Pa55word-77aa",
    "DVT_TEST_AWS_SECRET": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "DVT_TEST_AWS_TOKEN": "FwoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789",
    "DVT_TEST_GCP_KEY": "-----BEGIN PRIVATE KEY-----\n"
                        "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC7fake\n"
                        "-----END PRIVATE KEY-----\n",
}


def pem(kind: str = "PRIVATE KEY", body: bytes | None = None) -> str:
    """A PEM block of the given kind (the body is random bytes: only its shape matters here)."""
    data = body if body is not None else b"\x30\x82\x04\xbe" + os.urandom(600)
    lines = textwrap.wrap(base64.b64encode(data).decode(), 64)
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n"


PROFILES = """
warehouses:
  target: snow
  outputs:
    snow:
      type: snowflake
      account: xy12345.us-east-1
      user: LOADER
      password: "{{ env_var('DVT_TEST_SF_PASSWORD') }}"
      database: ANALYTICS
      schema: PUBLIC
      warehouse: TRANSFORMING
      role: LOADER_ROLE
    snow_key:
      type: snowflake
      account: https://xy12345.eu-central-1.snowflakecomputing.com
      user: LOADER
      private_key_path: KEYDIR/rsa_key.p8
      database: ANALYTICS
    snow_encrypted_key:
      type: snowflake
      account: xy12345
      user: LOADER
      private_key_path: KEYDIR/encrypted.p8
      database: ANALYTICS
    snow_pkcs1_key:
      type: snowflake
      account: xy12345
      user: LOADER
      private_key_path: KEYDIR/pkcs1.pem
      database: ANALYTICS
    snow_passphrase:
      type: snowflake
      account: xy12345
      user: LOADER
      private_key_path: KEYDIR/rsa_key.p8
      private_key_passphrase: "{{ env_var('DVT_TEST_SF_PASSWORD') }}"
      database: ANALYTICS
    snow_oauth:
      type: snowflake
      account: xy12345
      user: LOADER
      authenticator: oauth
      token: "{{ env_var('DVT_TEST_SF_TOKEN') }}"
      database: ANALYTICS
    snow_browser:
      type: snowflake
      account: xy12345
      user: LOADER
      authenticator: externalbrowser
      database: ANALYTICS
    snow_no_db:
      type: snowflake
      account: xy12345
      user: LOADER
      password: "{{ env_var('DVT_TEST_SF_PASSWORD') }}"
    bq:
      type: bigquery
      method: service-account-json
      project: acme-data
      dataset: sales
      execution_project: acme-billing
      keyfile_json:
        type: service_account
        project_id: acme-data
        private_key_id: 0123abcd
        private_key: "{{ env_var('DVT_TEST_GCP_KEY') }}"
        client_email: loader@acme-data.iam.gserviceaccount.com
    bq_file:
      type: bigquery
      method: service-account
      project: acme-data
      dataset: sales
      keyfile: KEYDIR/gcp.json
    bq_oauth:
      type: bigquery
      method: oauth
      project: acme-data
    bq_refresh_only:
      type: bigquery
      method: oauth-secrets
      project: acme-data
      dataset: sales
      refresh_token: "{{ env_var('DVT_TEST_SF_TOKEN') }}"
    rs:
      type: redshift
      host: examplecluster.abc123.us-east-1.redshift.amazonaws.com
      port: 5439
      user: loader
      password: "{{ env_var('DVT_TEST_RS_PASSWORD') }}"
      dbname: dev
      schema: public
      sslmode: require
    rs_url_creds:
      type: redshift
      host: examplecluster.abc123.us-east-1.redshift.amazonaws.com
      user: loader
      dbname: dev
      url: "URL_WITH_CREDENTIALS"
    rs_iam:
      type: redshift
      method: iam
      cluster_id: examplecluster
      host: examplecluster.abc123.us-east-1.redshift.amazonaws.com
      user: loader
      dbname: dev
"""

BUCKETS = """
warehouses:
  target: local
  outputs:
    local:
      type: local
      path: STAGEDIR
      prefix: team-a
    s3_role:
      type: s3
      bucket: acme-staging
      prefix: transfers
      region: us-east-1
      role_arn: arn:aws:iam::123456789012:role/RedshiftStaging
    s3_session:
      type: s3
      bucket: acme-staging
      region: us-east-1
      aws_access_key_id: AKIAEXAMPLEKEYID0001
      aws_secret_access_key: "{{ env_var('DVT_TEST_AWS_SECRET') }}"
      aws_session_token: "{{ env_var('DVT_TEST_AWS_TOKEN') }}"
    s3_keys:
      type: s3
      bucket: acme-staging
      region: us-east-1
      aws_access_key_id: AKIAEXAMPLEKEYID0001
      aws_secret_access_key: "{{ env_var('DVT_TEST_AWS_SECRET') }}"
    s3_ambient:
      type: s3
      bucket: acme-staging
      region: eu-west-1
    gcs:
      type: gcs
      bucket: acme-staging
      prefix: dvt-stage
      project: acme-data
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """profiles.yml and buckets.yml for the three warehouses, loaded by the real loader."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "config"
    keys = tmp_path / "keys"
    config.mkdir()
    keys.mkdir()
    (keys / "rsa_key.p8").write_text(pem())
    (keys / "encrypted.p8").write_text(pem("ENCRYPTED PRIVATE KEY"))
    (keys / "pkcs1.pem").write_text(pem("RSA PRIVATE KEY"))
    (keys / "gcp.json").write_text('{"type": "service_account"}')
    url = ("jdbc:redshift://examplecluster:5439/dev?user=loader&"
           "password={{ env_var('DVT_TEST_RS_PASSWORD') }}")
    profiles = PROFILES.replace("KEYDIR", str(keys)).replace("URL_WITH_CREDENTIALS", url)
    (config / "profiles.yml").write_text(profiles)
    (config / "buckets.yml").write_text(BUCKETS.replace("STAGEDIR", str(tmp_path / "staging")))
    for path in config.iterdir():
        path.chmod(0o600)
    return load_project(config)


@pytest.fixture
def record_dir(spark: Any, tmp_path: Path) -> Iterator[Path]:
    """The connector doubles, registered for this test only under the real format names; what
    they received is recorded in the folder returned."""
    from .doubles import register_doubles, unregister_doubles

    folder = tmp_path / "records"
    doubles = register_doubles(spark, folder)
    yield folder
    unregister_doubles(spark, doubles)


def secret_values() -> list[str]:
    return list(SECRETS.values())
