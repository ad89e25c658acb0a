"""Secrets never leave through what we print: redaction, reprs, display dicts, logs; and the
warning for a config file with secrets that others can read."""

from __future__ import annotations

import logging

import pytest

from dvt_connect import secrets
from dvt_connect.config import load_project
from dvt_connect.console import CaptureConsole, JsonConsole

from .conftest import PG_PROFILE, WriteConfig


def test_register_and_redact() -> None:
    secrets.register("hunter2-long")
    secrets.register({"nested": ["in-a-list-secret"]})
    secrets.register("abc")  # too short to mask in free text (would hit ordinary words)
    text = "pw=hunter2-long x=in-a-list-secret y=abc"
    assert secrets.redact(text) == f"pw={secrets.MASK} x={secrets.MASK} y=abc"


def test_multiline_secret_is_masked_line_by_line() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ\n-----END PRIVATE KEY-----"
    secrets.register(pem)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQ" not in secrets.redact("line: MIIEvQIBADANBgkqhkiG9w0BAQ")


def test_redact_url() -> None:
    assert secrets.redact_url("jdbc:postgresql://u:pw123@h/db") == (
        f"jdbc:postgresql://u:{secrets.MASK}@h/db")
    assert secrets.redact_url("jdbc:x://h/db?user=u&password=pw123&ssl=true") == (
        f"jdbc:x://h/db?user=u&password={secrets.MASK}&ssl=true")
    assert secrets.redact_url("jdbc:sqlserver://h;PWD=pw123;UID=u") == (
        f"jdbc:sqlserver://h;PWD={secrets.MASK};UID=u")


def test_connection_never_shows_its_password(write_config: WriteConfig) -> None:
    folder = write_config("""
        default:
          target: dev
          outputs:
            dev:
              type: jdbc
              url: "jdbc:hsqldb:hsql://h/db;password=url-secret-1"
              driver: org.hsqldb.jdbc.JDBCDriver
              user: sa
              password: field-secret-1
              properties: {password: prop-secret-1, token: prop-token-1, ssl: "true"}
    """)
    conn = load_project(folder).connection()
    assert conn.jdbc_properties()["password"] == "prop-secret-1"  # used, not shown:
    shown = " ".join([repr(conn), str(conn.display()), conn.location()])
    for secret in ("url-secret-1", "field-secret-1", "prop-secret-1", "prop-token-1"):
        assert secret not in shown
    assert conn.display()["properties"]["ssl"] == "true"


def test_consoles_and_logs_redact(write_config: WriteConfig,
                                  caplog: pytest.LogCaptureFixture,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    load_project(write_config(PG_PROFILE)).connection()  # registers pw-literal-123
    console = CaptureConsole()
    console.info("connecting with pw-literal-123")
    console.table("t pw-literal-123", ["c"], [["pw-literal-123"]])
    console.json({"k": ["pw-literal-123"]})
    assert "pw-literal-123" not in console.text

    JsonConsole().json({"password": "pw-literal-123"})
    assert "pw-literal-123" not in capsys.readouterr().out

    secrets.install_logging_filter()
    logger = logging.getLogger("dvt.test")
    with caplog.at_level(logging.INFO):
        logger.info("password is %s", "pw-literal-123")
    assert "pw-literal-123" not in caplog.text


# -- permissions -------------------------------------------------------------------------------
def test_warns_when_a_file_with_literal_secrets_is_group_readable(
        write_config: WriteConfig) -> None:
    project = load_project(write_config(PG_PROFILE, mode=0o644))
    assert len(project.warnings) == 1
    assert "holds secrets and is readable by group or others" in project.warnings[0]
    assert "chmod 600" in project.warnings[0]


def test_buckets_file_with_secrets_is_checked_too(write_config: WriteConfig) -> None:
    folder = write_config(PG_PROFILE, """
        default:
          outputs:
            a:
              type: azure
              storage_account: s
              container: c
              account_key: literal-azure-key
    """)
    (folder / "buckets.yml").chmod(0o640)
    warnings = load_project(folder).warnings
    assert [w for w in warnings if "buckets.yml" in w]
    assert not [w for w in warnings if "profiles.yml" in w]


@pytest.mark.parametrize("profiles", [
    PG_PROFILE.replace("pw-literal-123", "\"{{ env_var('PG_PW', '') }}\""),  # from the env
    PG_PROFILE.replace("password: pw-literal-123", "sslmode: require"),  # no secret at all
])
def test_no_warning_without_literal_secrets(write_config: WriteConfig, profiles: str) -> None:
    assert load_project(write_config(profiles, mode=0o644)).warnings == []


def test_no_warning_for_a_private_file(write_config: WriteConfig) -> None:
    assert load_project(write_config(PG_PROFILE, mode=0o600)).warnings == []
