"""Known secret values, set every way a user can set them, never reach stdout or stderr of
any command: tables, JSON, warnings, errors and `--debug` tracebacks."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from .conftest import Dvt

SECRETS = {
    "literal password": "lit-pg-pass-1a2b",
    "DVT_ENV_SECRET_ password": "env-secret-pw-3c4d",
    "DVT_ENV_SECRET_ host": "env-secret-host-5e6f",
    "literal oauth token": "sf-oauth-token-7g8h",
    "DBT_ENV_SECRET_ key passphrase": "key-passphrase-9i0j",
    "password inside a JDBC URL": "url-embedded-pw-1k2l",
    "password property": "prop-pw-2k3l",
    "literal Azure account key": "lit-azure-key-3m4n",
    "SAS token from a plain variable": "sas-secret-5o6p",
    "AWS secret key from a plain variable": "aws-secret-7q8r",
    "secret variable in an invalid port (an error)": "bad-port-secret-9s0t",
    "secret variable in an invalid region (an error)": "secret-region-x1y2",
    "Iceberg REST catalog token": "ice-rest-token-4u5v",
    "Iceberg REST catalog credential": "ice-client-cred-6w7x",
    "Iceberg catalog S3 secret key": "ice-s3-secret-8y9z",
    "password in an Iceberg REST catalog's uri": "ice-uri-pw-0a1b",
}

PROFILES = """
default:
  target: lake
  outputs:
    pg_lit:
      type: postgres
      host: 127.0.0.1
      port: {closed_port}
      user: etl
      password: lit-pg-pass-1a2b
      dbname: shop
    pg_env:
      type: postgres
      host: "{{{{ env_var('DVT_ENV_SECRET_HOST') }}}}"
      user: etl
      password: "{{{{ env_var('DVT_ENV_SECRET_PG_PW') }}}}"
      dbname: shop
    sf:
      type: snowflake
      account: secrets-test.invalid
      user: etl
      authenticator: oauth
      token: sf-oauth-token-7g8h
      private_key_passphrase: "{{{{ env_var('DBT_ENV_SECRET_KEY_PASS') }}}}"
    generic:
      type: jdbc
      url: "jdbc:hsqldb:hsql://127.0.0.1:{closed_port}/db;password=url-embedded-pw-1k2l"
      driver: org.hsqldb.jdbc.JDBCDriver
      packages: [org.hsqldb:hsqldb:2.7.4]
      properties: {{password: prop-pw-2k3l}}
    broken:
      type: postgres
      host: 127.0.0.1
      port: "{{{{ env_var('DVT_ENV_SECRET_PORT') }}}}"
      user: etl
      dbname: shop
    lake:
      type: files
      path: {lake}
    ice:
      type: files
      path: {lake}
      format: iceberg
      catalog:
        type: rest
        uri: "https://svc:ice-uri-pw-0a1b@catalog.invalid/iceberg/"
        warehouse: prod
        token: ice-rest-token-4u5v
        credential: "client:ice-client-cred-6w7x"
        s3.secret-access-key: ice-s3-secret-8y9z
"""

BUCKETS = """
default:
  target: az
  outputs:
    az:
      type: azure
      storage_account: acct
      container: stage
      account_key: lit-azure-key-3m4n
    az_sas:
      type: azure
      storage_account: acct
      container: stage
      sas_token: "{{ env_var('AZURE_SAS') }}"
    s3:
      type: s3
      bucket: stage
      region: us-east-1
      aws_access_key_id: AKIAEXAMPLE
      aws_secret_access_key: "{{ env_var('AWS_SECRET_ACCESS_KEY') }}"
    bad_region:
      type: s3
      bucket: stage2
      region: "{{ env_var('DVT_ENV_SECRET_REGION') }}"
"""


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "profiles.yml").write_text(
        PROFILES.format(closed_port=closed_port, lake=tmp_path / "lake"))
    (folder / "buckets.yml").write_text(textwrap.dedent(BUCKETS))
    for name in ("profiles.yml", "buckets.yml"):
        (folder / name).chmod(0o644)  # readable by others: the warning must not quote values
    monkeypatch.setenv("DVT_PROFILES_DIR", str(folder))
    monkeypatch.setenv("DVT_ENV_SECRET_HOST", SECRETS["DVT_ENV_SECRET_ host"])
    monkeypatch.setenv("DVT_ENV_SECRET_PG_PW", SECRETS["DVT_ENV_SECRET_ password"])
    monkeypatch.setenv("DBT_ENV_SECRET_KEY_PASS", SECRETS["DBT_ENV_SECRET_ key passphrase"])
    monkeypatch.setenv("AZURE_SAS", SECRETS["SAS token from a plain variable"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRETS["AWS secret key from a plain variable"])
    monkeypatch.setenv("DVT_ENV_SECRET_PORT",
                       SECRETS["secret variable in an invalid port (an error)"])
    monkeypatch.setenv("DVT_ENV_SECRET_REGION",
                       SECRETS["secret variable in an invalid region (an error)"])
    return folder


COMMANDS: list[tuple[str, ...]] = [
    ("init",),
    ("init", "--force"),
    ("debug",),
    ("debug", "--json"),
    ("debug", "--no-connect"),
    ("debug", "--connection"),
    ("debug", "--target", "broken"),
    ("sync", "--dry-run", "--offline"),
    ("sync", "--dry-run", "--offline", "--json"),
    ("transfer", "--dry-run", "--source", "pg_lit", "--table", "public.t"),
    ("transfer", "--dry-run", "--source", "pg_env", "--table", "public.t", "--json"),
    ("transfer", "--dry-run", "--source", "broken", "--table", "public.t"),
    ("--debug", "transfer", "--dry-run", "--source", "broken", "--table", "public.t"),
]
MODULES = {"sync": "dvt_connect.cli.sync", "transfer": "dvt_connect.cli.transfer"}


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_no_command_prints_a_secret(argv: tuple[str, ...], configured: Path, dvt: Dvt) -> None:
    command = next(a for a in argv if not a.startswith("-"))
    if command in MODULES and importlib.util.find_spec(MODULES[command]) is None:
        pytest.skip(f"`dvt {command}` does not exist yet")
    result = dvt(*argv)
    assert result.text, "the command printed nothing"
    leaked = {what: value for what, value in SECRETS.items() if value in result.text}
    assert leaked == {}, result.text


def test_the_secrets_were_really_used(configured: Path, dvt: Dvt) -> None:
    """Guard against a vacuous pass: the values are in play, and shown masked."""
    doc = dvt("debug", "--json").json()
    errors = " ".join(str(c["error"]) for c in doc["connections"])
    errors += " ".join(str(b["error"]) for b in doc["buckets"])
    assert "`port` must be a whole number, not `****`" in errors
    assert "`****` is not a valid AWS region" in errors
    pg_env = next(c for c in doc["connections"] if c["name"] == "pg_env")
    assert pg_env["reach"]["check"] == "TCP ****:5432"
    assert any("readable by group or others" in w for w in doc["warnings"])
