"""The origin design's selection rules, size, and a native connector whose jars are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvt_connect.config.buckets import parse_bucket
from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.base import ConnectorType
from dvt_connect.connectors.selection import choose_connector
from dvt_connect.errors import ConfigError

SNOWFLAKE = {"type": "snowflake", "account": "acme", "user": "u", "password": "p",
             "database": "D"}


def snowflake(**extra: str):  # type: ignore[no-untyped-def]
    return parse_connection("sf", {**SNOWFLAKE, **extra}, path=Path("profiles.yml"),
                            key="p.outputs.sf")


def s3():  # type: ignore[no-untyped-def]
    return {"s3": parse_bucket("s3", {"type": "s3", "bucket": "b", "region": "us-east-1"},
                               path=Path("buckets.yml"), key="default.outputs.s3")}


def test_native_with_a_bucket_for_a_large_table() -> None:
    choice = choose_connector(snowflake(), s3(), estimated_rows=5_000_000)
    assert choice.connector is ConnectorType.SNOWFLAKE_NATIVE
    assert "5,000,000" in choice.reason and choice.bucket is not None


def test_small_table_uses_jdbc_even_with_a_bucket() -> None:
    choice = choose_connector(snowflake(), s3(), estimated_rows=2_000)
    assert choice.connector is ConnectorType.JDBC
    assert "2,000" in choice.reason and "100,000" in choice.reason


def test_no_bucket_warns_and_falls_back() -> None:
    choice = choose_connector(snowflake(), {}, estimated_rows=5_000_000)
    assert choice.connector is ConnectorType.JDBC
    assert choice.reason == "no s3/azure/gcs bucket configured"
    assert choice.warnings[0].endswith("Falling back to JDBC.")


def test_jars_not_synced_warns_and_falls_back_in_auto_mode() -> None:
    # `native_path: connector`: the warehouse's own unload path is not wanted (issue 13)
    why = "its Spark connector jars are not in the jars folder (run `dvt sync`)"
    choice = choose_connector(snowflake(native_path="connector"), s3(), estimated_rows=5_000_000,
                              unavailable=why)
    assert choice.connector is ConnectorType.JDBC
    assert choice.reason == why
    assert choice.warnings == (
        f"Native connector available for snowflake but {why}. Falling back to JDBC.",)


def test_jars_not_synced_is_an_error_when_native_is_forced() -> None:
    with pytest.raises(ConfigError, match="--connector native cannot be used for snowflake"):
        choose_connector(snowflake(native_path="connector"), s3(), mode="native",
                         unavailable="jars missing")


def test_connector_jdbc_overrides_everything() -> None:
    choice = choose_connector(snowflake(), s3(), mode="jdbc", estimated_rows=10**9)
    assert choice.connector is ConnectorType.JDBC
