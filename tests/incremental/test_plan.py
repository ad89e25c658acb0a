"""The pure parts of incremental, merge and truncate: option checks, marks, lookback windows,
the read predicate in each source's literals, and the exact SQL each dialect runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dvt_connect.connectors.base import TableRef, WriteRequest
from dvt_connect.connectors.jdbc.ddl import (
    dialect_for,
    merge_statements,
    primary_key_sql,
    truncate_statements,
)
from dvt_connect.connectors.staging import lock_key
from dvt_connect.databases import database
from dvt_connect.databases.postgres import SHORT_AUTOVACUUM_WAIT
from dvt_connect.errors import UsageError
from dvt_connect.incremental import (
    Mark,
    mark_of,
    parse_lookback,
    read_predicate,
    start_of_window,
)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "merge"}, "--mode merge needs --primary-key"),
    ({"mode": "incremental"}, "--mode incremental needs --update-key"),
    ({"mode": "append", "primary_key": ("id",)}, "--primary-key applies to --mode merge"),
    ({"mode": "merge", "primary_key": ("id",), "update_key": "u"},
     "--update-key applies to --mode incremental"),
    ({"mode": "append", "tie_breaker": "v"}, "--tie-breaker picks one row per --primary-key"),
    ({"mode": "incremental", "update_key": "u", "lookback": "1h"},
     "only a merge can take"),
    ({"mode": "merge", "primary_key": ("id", "ID")}, "lists each column once"),
    ({"mode": "upsert"}, "unknown mode `upsert`"),
])
def test_bad_mode_options_are_one_usage_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        WriteRequest(table=TableRef("t"), **kwargs)  # type: ignore[arg-type]


def test_marks_keep_full_precision() -> None:
    assert mark_of(None, "u") is None
    assert mark_of(42, "u") == Mark("integer", "42")
    assert mark_of(Decimal("12.50"), "u") == Mark("decimal", "12.50")
    assert mark_of(Decimal("12"), "u") == Mark("integer", "12")
    assert mark_of(date(2024, 2, 29), "u") == Mark("date", "2024-02-29")
    assert mark_of(datetime(2024, 1, 1, 10, 0, 0, 1), "u") == \
        Mark("timestamp", "2024-01-01 10:00:00.000001")
    # an instant becomes its UTC wall time
    cet = timezone(timedelta(hours=1))
    assert mark_of(datetime(2024, 1, 1, 11, 0, 0, 999999, tzinfo=cet), "u") == \
        Mark("timestamp", "2024-01-01 10:00:00.999999")
    with pytest.raises(UsageError, match="must be an integer, decimal, date or timestamp"):
        mark_of("abc", "u")


def test_lookback_windows() -> None:
    assert parse_lookback("90s") == timedelta(seconds=90)
    assert parse_lookback("2h") == timedelta(hours=2)
    assert parse_lookback("1000") == Decimal(1000)
    ts = Mark("timestamp", "2024-01-01 00:30:00.000005")
    assert start_of_window(ts, "1h") == Mark("timestamp", "2023-12-31 23:30:00.000005")
    assert start_of_window(Mark("integer", "100"), "30") == Mark("integer", "70")
    assert start_of_window(Mark("decimal", "1.50"), "0.25") == Mark("decimal", "1.25")
    assert start_of_window(Mark("date", "2024-03-01"), "1d") == Mark("date", "2024-02-29")
    with pytest.raises(UsageError, match="is a duration, but the update key is numeric"):
        start_of_window(Mark("integer", "100"), "2h")
    with pytest.raises(UsageError, match="is a number, but the update key is a timestamp"):
        start_of_window(ts, "5")
    with pytest.raises(UsageError, match="neither a duration"):
        parse_lookback("yesterday")


def test_read_predicate_in_each_source_dialect() -> None:
    mark = Mark("timestamp", "2024-01-01 10:00:00.000001")
    assert read_predicate("updated_at", mark, database("postgres"), inclusive=False) == \
        "\"updated_at\" > '2024-01-01 10:00:00.000001+00:00'"
    assert read_predicate("updated_at", mark, database("mariadb"), inclusive=True) == \
        "`updated_at` >= '2024-01-01 10:00:00.000001'"
    assert read_predicate("updated_at", mark, database("oracle"), inclusive=False) == \
        "\"updated_at\" > TIMESTAMP '2024-01-01 10:00:00.000001'"
    assert read_predicate("id", Mark("integer", "7"), database("sqlserver"),
                          inclusive=False) == "[id] > 7"
    assert read_predicate("d", Mark("date", "2024-01-01"), database("files"), inclusive=False,
                          spark_sql=True) == "`d` > DATE '2024-01-01'"


def _merge(name: str, keys: tuple[str, ...] = ("id",),
           columns: tuple[str, ...] = ("id", "qty")) -> list[str]:
    facts = database(name)
    return merge_statements(dialect_for(facts), facts, target_sql=facts.quote_qualified("s", "t"),
                            stage_sql=facts.quote_qualified("s", "t__dvt_stage_1"),
                            target_columns=columns, stage_columns=columns, keys=keys,
                            stage_keys=keys)


def test_merge_sql_per_database() -> None:
    assert _merge("postgres") == [
        'INSERT INTO "s"."t" ("id", "qty") SELECT "id", "qty" FROM "s"."t__dvt_stage_1" '
        'ON CONFLICT ("id") DO UPDATE SET "qty" = EXCLUDED."qty"']
    assert _merge("mariadb") == _merge("mysql") == [
        "INSERT INTO `s`.`t` (`id`, `qty`) SELECT `id`, `qty` FROM `s`.`t__dvt_stage_1` "
        "ON DUPLICATE KEY UPDATE `qty` = VALUES(`qty`)"]
    assert _merge("sqlserver") == [
        "MERGE INTO [s].[t] WITH (HOLDLOCK) AS t USING [s].[t__dvt_stage_1] AS s "
        "ON (t.[id] = s.[id]) WHEN MATCHED THEN UPDATE SET t.[qty] = s.[qty] "
        "WHEN NOT MATCHED THEN INSERT ([id], [qty]) VALUES (s.[id], s.[qty]);"]
    assert _merge("oracle") == [
        'MERGE INTO "s"."t" t USING "s"."t__dvt_stage_1" s ON (t."id" = s."id") '
        'WHEN MATCHED THEN UPDATE SET t."qty" = s."qty" '
        'WHEN NOT MATCHED THEN INSERT ("id", "qty") VALUES (s."id", s."qty")']
    assert _merge("db2", keys=("a", "b"), columns=("a", "b", "v")) == [
        'DELETE FROM "s"."t" WHERE EXISTS (SELECT 1 FROM "s"."t__dvt_stage_1" s '
        'WHERE "s"."t"."a" = s."a" AND "s"."t"."b" = s."b")',
        'INSERT INTO "s"."t" ("a", "b", "v") SELECT "a", "b", "v" FROM "s"."t__dvt_stage_1"']


def test_merge_when_every_column_is_a_key_only_inserts() -> None:
    assert _merge("postgres", columns=("id",)) == [
        'INSERT INTO "s"."t" ("id") SELECT "id" FROM "s"."t__dvt_stage_1" '
        'ON CONFLICT ("id") DO NOTHING']
    assert _merge("mariadb", columns=("id",)) == [
        "INSERT IGNORE INTO `s`.`t` (`id`) SELECT `id` FROM `s`.`t__dvt_stage_1`"]


def test_truncate_and_primary_key_sql() -> None:
    pg, maria, ch = database("postgres"), database("mariadb"), database("clickhouse")
    assert truncate_statements(dialect_for(pg), '"t"') == [SHORT_AUTOVACUUM_WAIT,
                                                          'TRUNCATE TABLE "t"']
    assert truncate_statements(dialect_for(maria), "`t`") == ["DELETE FROM `t`"]
    assert not dialect_for(ch).truncate_atomic
    assert primary_key_sql(dialect_for(pg), pg, stage_sql='"t__s"', target="t" * 70,
                           keys=("a", "b")) == \
        f'ALTER TABLE "t__s" ADD CONSTRAINT "{"t" * 58}_pkey" PRIMARY KEY ("a", "b")'


def test_lock_names_fit_mysql() -> None:
    assert lock_key(TableRef("orders", "shop")) == "dvt:shop.orders"
    long = lock_key(TableRef("o" * 80, "shop"))
    assert long.startswith("dvt:") and len(long) == 44


def test_backfill_ranges() -> None:
    from dvt_connect.incremental import parse_range, range_predicate

    low, high = parse_range("2024-01-01..2024-02-01")
    assert (low, high) == (Mark("date", "2024-01-01"), Mark("date", "2024-02-01"))
    assert range_predicate("d", low, high, database("oracle")) == \
        "\"d\" >= DATE '2024-01-01' AND \"d\" < DATE '2024-02-01'"
    # an offset is converted to UTC, microseconds kept
    low, high = parse_range("2024-01-01 10:00:00.5..2024-01-01T13:00:00+02:00")
    assert range_predicate("t", low, high, database("postgres")) == (
        "\"t\" >= '2024-01-01 10:00:00.500000+00:00' AND "
        "\"t\" < '2024-01-01 11:00:00.000000+00:00'")
    assert range_predicate("t", low, high, database("mariadb")) == (
        "`t` >= '2024-01-01 10:00:00.500000' AND `t` < '2024-01-01 11:00:00.000000'")
    assert parse_range("1000..2000") == (Mark("integer", "1000"), Mark("integer", "2000"))
    for text, message in [("2024-01-01", "is not START..END"),
                          ("5..1", "START must be before END"),
                          ("1..2024-01-01", "START is a integer and END a date"),
                          ("a..b", "`a` is not an integer")]:
        with pytest.raises(UsageError, match=message):
            parse_range(text)
    with pytest.raises(UsageError, match="--mode backfill needs --update-key and --range"):
        WriteRequest(table=TableRef("t"), mode="backfill", update_key="u")
    with pytest.raises(UsageError, match="--range applies to --mode backfill"):
        WriteRequest(table=TableRef("t"), mode="append", range="1..2")
