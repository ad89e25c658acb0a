"""ClickHouse, declared in one module (dvt_connect/databases/clickhouse.py): its URL, quoting,
DDL and error rules, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import types as t

from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.jdbc.ddl import (
    create_table_sql,
    dialect_for,
    plan_columns,
    swap_statements,
)
from dvt_connect.connectors.jdbc.errors import (
    ChainLink,
    Verdict,
    classify_chain,
    describe_link,
    rules_for,
)
from dvt_connect.databases import DATABASES, database
from dvt_connect.databases.clickhouse import CLICKHOUSE


def clickhouse(**fields: object) -> object:
    data = {"type": "clickhouse", "host": "ch.example", **fields}
    return parse_connection("ch", data, path=Path("profiles.yml"), key="p.outputs.ch")


def sql(state: str | None, code: int, message: str = "boom") -> ChainLink:
    return ChainLink(java_class="java.sql.SQLException", message=message, sql_state=state,
                     vendor_code=code, is_sql=True)


def test_registered_from_its_module() -> None:
    assert DATABASES["clickhouse"] is CLICKHOUSE is database("ClickHouse")


def test_url_defaults_to_the_http_port() -> None:
    conn = clickhouse(database="analytics", user="ann", password="pw")
    assert conn.jdbc_url() == "jdbc:clickhouse://ch.example:8123/analytics"
    assert clickhouse(port=8443).jdbc_url() == "jdbc:clickhouse://ch.example:8443/"
    props = conn.jdbc_properties()
    assert props["driver"] == "com.clickhouse.jdbc.ClickHouseDriver"
    assert props["user"] == "ann" and props["password"] == "pw"


def test_quoting_doubles_backticks() -> None:
    assert CLICKHOUSE.quote_identifier("we`ird") == "`we``ird`"
    assert CLICKHOUSE.quote_qualified("db", "t") == "`db`.`t`"


def test_ddl_wraps_nullable_columns_and_names_an_engine() -> None:
    schema = t.StructType([
        t.StructField("id", t.LongType(), False),
        t.StructField("label", t.StringType()),
        t.StructField("amount", t.DecimalType(40, 4)),
        t.StructField("at", t.TimestampType()),
        t.StructField("wall", t.TimestampNTZType(), False),
        t.StructField("day", t.DateType()),
    ])
    dialect = dialect_for(CLICKHOUSE)
    plan = plan_columns(schema, dialect)
    assert create_table_sql("`db`.`t`", plan, CLICKHOUSE, dialect) == (
        "CREATE TABLE `db`.`t` (`id` Int64, `label` Nullable(String), "
        "`amount` Nullable(Decimal(40,4)), `at` Nullable(DateTime64(6, 'UTC')), "
        "`wall` DateTime64(6), `day` Nullable(Date32)) ENGINE = MergeTree ORDER BY tuple()")


def test_swap_exchanges_the_stage_with_the_target() -> None:
    swap = dialect_for(CLICKHOUSE).swap
    names = {"facts": CLICKHOUSE, "schema": "db", "target": "t", "stage": "t__s", "old": "t__o"}
    assert swap_statements(swap.replace, **names) == [  # type: ignore[arg-type]
        "EXCHANGE TABLES `db`.`t__s` AND `db`.`t`", "RENAME TABLE `db`.`t__s` TO `db`.`t__o`"]
    assert swap_statements(swap.after, **names) == ["DROP TABLE `db`.`t__o`"]  # type: ignore[arg-type]
    assert not swap.transactional and swap.atomic


@pytest.mark.parametrize("link, verdict", [
    (sql(None, 210), Verdict.TRANSIENT),  # network error
    (sql(None, 252), Verdict.TRANSIENT),  # too many parts
    (sql(None, 516), Verdict.TERMINAL),  # authentication failed
    (sql(None, 60), Verdict.TERMINAL),  # unknown table
    (sql(None, 159), Verdict.TERMINAL),  # max_execution_time
    (sql("08000", 0), Verdict.TRANSIENT),  # the standard's classes still apply
    (sql(None, 12345), Verdict.UNKNOWN),
])
def test_error_rules(link: ChainLink, verdict: Verdict) -> None:
    assert classify_chain((link,), rules_for("clickhouse"))[0] is verdict


def test_errors_read_as_one_line_without_the_server_prefix() -> None:
    link = sql(None, 516, "Code: 516. DB::Exception: ann: Authentication failed. (AUTH)")
    assert describe_link((link,), 0, rules_for("clickhouse"), user="ann", where="ch:8123/") == (
        'ClickHouse refused the login for user "ann" at ch:8123/: ann: Authentication '
        "failed. (AUTH) (error 516)")


def test_oracle_keeps_its_own_meaning_of_code_60() -> None:
    # ClickHouse's 60 is "unknown table"; Oracle's is a deadlock: rules are per database
    assert classify_chain((sql("61000", 60),), rules_for("oracle"))[0] is Verdict.TRANSIENT
