"""The partition planner, without a database: sizing, cut points, predicates, balance."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

import pytest

from dvt_connect.adapters import adapter
from dvt_connect.connectors.base import Partition, ReadRequest, TableRef
from dvt_connect.connectors.jdbc.sql import bounds_sql, column_kind, quantile_sql
from dvt_connect.errors import UsageError
from dvt_connect.partitioning import (
    ColumnKind,
    PartitionConfig,
    Value,
    build_partitions,
    dense_key,
    histogram_quantiles,
    parse_value,
    partition_count,
    plan_partitions,
    quantile_boundaries,
    sample_fraction,
    sql_literal,
    stride_boundaries,
)

PG = adapter("postgres")
BALANCE_FACTOR = 1.5  # largest partition at most 1.5x the mean, with quantile boundaries


def render_int(value: Value) -> str:
    return sql_literal(ColumnKind.INTEGER, value, PG.quote_literal)


def assign(partitions: Sequence[Partition], value: Value | None) -> int:
    """Which partition a value falls in, read off the bounds the predicates were built from
    (open below for the first, open above for the last, NULLs in the first)."""
    hits = [p.index for p in partitions
            if (value is None and p.index == 0)
            or (value is not None and (p.lower is None or value >= p.lower)
                and (p.upper is None or value < p.upper))]
    assert len(hits) == 1, f"{value!r} falls in partitions {hits}"
    return hits[0]


def exact_quantiles(values: Sequence[int], count: int) -> list[int]:
    """What PostgreSQL's percentile_disc(i/count) returns for non-NULL values."""
    ordered = sorted(values)
    out = []
    for i in range(1, count):
        fraction = i / count
        index = max(0, -(-int(fraction * len(ordered) * 1_000_000) // 1_000_000) - 1)
        out.append(ordered[min(index, len(ordered) - 1)])
    return out


# ---- sizing ------------------------------------------------------------------------------

@pytest.mark.parametrize("estimate, cores, expected, why", [
    (0, 8, 1, "at 100,000 per partition"),
    (5_000, 8, 1, "at 100,000 per partition"),
    (250_000, 8, 3, "at 100,000 per partition"),  # by size: fewer than the cores
    (1_000_000, 2, 2, "one partition per core (2), none over 500,000 rows"),
    (1_000_000, 16, 10, "at 100,000 per partition"),
    (2_000_000, 2, 4, "at most 500,000 per partition"),  # split: more than one per core
    (10_000_000, 2, 8, "at most 500,000 per partition, capped at 8 (2 cores)"),  # 4 per core
    (100_000_000, 64, 64, "capped at 64 (64 cores)"),  # the cap
])
def test_partition_count_from_estimate_cores_and_cap(estimate: int, cores: int,
                                                     expected: int, why: str) -> None:
    count, said = partition_count(estimate, cores, PartitionConfig())
    assert count == expected
    assert f"about {estimate:,} rows" in said and said.endswith(why), said


def test_partition_count_without_estimate_is_one_per_core() -> None:
    assert partition_count(None, 3, PartitionConfig()) == (
        3, "no row estimate: one partition per core (3)")


def test_requested_partitions_win() -> None:
    assert partition_count(10, 2, PartitionConfig(partitions=7)) == (7, "7 requested")


def test_request_overrides_config() -> None:
    config = PartitionConfig(partitions=3, column="a").with_request(
        ReadRequest(table=TableRef("t"), partitions=5, partition_column="b"))
    assert (config.partitions, config.column) == (5, "b")


def test_zero_partitions_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--partitions must be at least 1"):
        PartitionConfig(partitions=0)


# ---- kinds and values --------------------------------------------------------------------

@pytest.mark.parametrize("jdbc_type, scale, kind", [
    (4, 0, ColumnKind.INTEGER), (-5, 0, ColumnKind.INTEGER), (2, 0, ColumnKind.INTEGER),
    (2, 2, None), (12, 0, None), (8, 0, None), (91, 0, ColumnKind.DATE),
    (93, 6, ColumnKind.TIMESTAMP), (2014, 6, ColumnKind.TIMESTAMP), (-7, 0, None),
])
def test_column_kind(jdbc_type: int, scale: int, kind: ColumnKind | None) -> None:
    assert column_kind(jdbc_type, scale) is kind


def test_a_decimal_without_a_declared_precision_is_not_an_integer() -> None:
    """PostgreSQL's unconstrained ``numeric`` reports precision 0 and scale 0 and holds
    fractions: its bounds are not integers."""
    assert column_kind(2, 0, 0) is None
    assert column_kind(2, 0, 38) is ColumnKind.INTEGER


@pytest.mark.parametrize("kind, text, value", [
    (ColumnKind.INTEGER, "-42", -42),
    (ColumnKind.INTEGER, "12345678901234567890", 12345678901234567890),
    (ColumnKind.DATE, "2024-02-29", date(2024, 2, 29)),
    (ColumnKind.TIMESTAMP, "2024-01-02 03:04:05", datetime(2024, 1, 2, 3, 4, 5)),
    (ColumnKind.TIMESTAMP, "2024-01-02 03:04:05.0", datetime(2024, 1, 2, 3, 4, 5)),  # MariaDB
    (ColumnKind.TIMESTAMP, "2024-01-02 03:04:05.123", datetime(2024, 1, 2, 3, 4, 5, 123000)),
    (ColumnKind.TIMESTAMP, "2024-01-02 03:04:05.123456+00",  # PostgreSQL timestamptz
     datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)),
    (ColumnKind.TIMESTAMP, "2024-01-02 03:04:05+05:30",
     datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    (ColumnKind.TIMESTAMP, None, None),
])
def test_parse_value_reads_driver_text_without_time_zone_shifts(
        kind: ColumnKind, text: str | None, value: Value | None) -> None:
    assert parse_value(kind, text) == value


def test_literals() -> None:
    q = PG.quote_literal
    assert sql_literal(ColumnKind.INTEGER, 7, q) == "7"
    assert sql_literal(ColumnKind.DATE, date(2024, 1, 2), q) == "'2024-01-02'"
    assert sql_literal(ColumnKind.TIMESTAMP, datetime(2024, 1, 2, 3, 4, 5), q) == (
        "'2024-01-02 03:04:05.000000'")
    assert sql_literal(ColumnKind.DATE, date(2024, 1, 2), q, "DATE {}") == "DATE '2024-01-02'"


# ---- cut points and predicates -----------------------------------------------------------

def test_stride_boundaries_cover_the_range_evenly() -> None:
    assert stride_boundaries(ColumnKind.INTEGER, 1, 100, 4) == [26, 51, 76]
    assert stride_boundaries(ColumnKind.INTEGER, -10, -1, 2) == [-5]


def test_stride_never_makes_more_partitions_than_values() -> None:
    assert stride_boundaries(ColumnKind.INTEGER, 5, 7, 10) == [6, 7]


def test_stride_on_dates_and_timestamps() -> None:
    assert stride_boundaries(ColumnKind.DATE, date(2024, 1, 1), date(2024, 1, 31), 3) == [
        date(2024, 1, 11), date(2024, 1, 21)]
    utc = timezone.utc
    cuts = stride_boundaries(ColumnKind.TIMESTAMP, datetime(2024, 1, 1, tzinfo=utc),
                             datetime(2024, 1, 1, 0, 0, 3, tzinfo=utc), 2)
    assert cuts == [datetime(2024, 1, 1, 0, 0, 1, 500000, tzinfo=utc)]


def test_quantile_boundaries_drop_duplicates_and_out_of_range() -> None:
    assert quantile_boundaries([1, 5, 5, 5, 9, None, 12], 1, 10) == [5, 9]


def test_predicates_are_half_open_chained_and_fold_nulls_into_the_first() -> None:
    parts = build_partitions('"id"', [10, 20], render_int, nullable=True)
    assert [p.predicate for p in parts] == [
        '"id" < 10 OR "id" IS NULL',
        '"id" >= 10 AND "id" < 20',
        '"id" >= 20',
    ]
    assert [(p.lower, p.upper) for p in parts] == [(None, 10), (10, 20), (20, None)]


def test_not_nullable_column_has_no_null_branch() -> None:
    parts = build_partitions('"id"', [10], render_int, nullable=False)
    assert [p.predicate for p in parts] == ['"id" < 10', '"id" >= 10']


def test_every_value_lands_in_exactly_one_partition_at_and_beyond_the_bounds() -> None:
    plan = plan_partitions(column_sql='"k"', kind=ColumnKind.INTEGER, lower=0, upper=1000,
                           count=7, nullable=True, render=render_int)
    assert len(plan.partitions) == 7
    cuts = [p.lower for p in plan.partitions[1:]]
    probes = [None, -10**12, 0, 1000, 10**12] + [c + d for c in cuts for d in (-1, 0, 1)]
    counts = Counter(assign(plan.partitions, v) for v in probes)
    assert sum(counts.values()) == len(probes)


def test_single_partition_when_no_values_one_value_or_one_requested() -> None:
    for lower, upper, count in ((None, None, 4), (5, 5, 4), (1, 100, 1)):
        plan = plan_partitions(column_sql='"k"', kind=ColumnKind.INTEGER, lower=lower,
                               upper=upper, count=count, nullable=True, render=render_int)
        assert plan.partitions == (Partition(index=0, predicate=None),)


def test_skewed_keys_are_balanced_by_quantiles_not_by_stride() -> None:
    rng = random.Random(7)
    # 95% of keys dense in 1..50,000, 5% spread up to a billion (SPARK-19327's shape)
    values = list(range(1, 47_501)) + [rng.randint(50_001, 10**9) for _ in range(2_500)]
    count = 8
    lower, upper = min(values), max(values)

    def sizes(quantiles: list[int] | None) -> list[int]:
        plan = plan_partitions(column_sql='"k"', kind=ColumnKind.INTEGER, lower=lower,
                               upper=upper, count=count, nullable=False, render=render_int,
                               quantiles=quantiles)
        assert len(plan.partitions) == count
        tally = Counter(assign(plan.partitions, v) for v in values)
        return [tally.get(i, 0) for i in range(count)]

    balanced = sizes(exact_quantiles(values, count))
    strided = sizes(None)
    mean = len(values) / count
    assert sum(balanced) == sum(strided) == len(values)
    assert max(balanced) <= BALANCE_FACTOR * mean
    assert max(strided) > 0.9 * len(values)  # the stride puts nearly everything in one


def test_a_dominant_value_yields_fewer_partitions_with_a_note() -> None:
    values = [0] * 600 + list(range(1, 401))
    plan = plan_partitions(column_sql='"k"', kind=ColumnKind.INTEGER, lower=0, upper=400,
                           count=4, nullable=False, render=render_int,
                           quantiles=exact_quantiles(values, 4))
    assert len(plan.partitions) == 2
    assert "one value dominates" in plan.notes[0]


# ---- SQL feeding the planner ---------------------------------------------------------------

def test_bounds_sql_is_one_query_with_the_catalog_queries() -> None:
    assert bounds_sql('"id"', '"s"."t"', "x > 1", ["SELECT 5", "SELECT 'a;b'"]) == (
        'SELECT MIN("id"), MAX("id"), (SELECT 5), (SELECT \'a;b\') FROM "s"."t" WHERE x > 1')
    assert bounds_sql('"id"', '"s"."t"', None) == 'SELECT MIN("id"), MAX("id") FROM "s"."t"'


def test_a_dense_key_holds_most_values_between_its_bounds() -> None:
    integer = ColumnKind.INTEGER
    assert dense_key(integer, 1, 1000, 1000, 0.9)
    assert dense_key(integer, 1, 1000, 900, 0.9)
    assert not dense_key(integer, 1, 1000, 899, 0.9)
    assert not dense_key(integer, 1, 7000, 1000, 0.9)  # every 7th value
    # no estimate, or statistics never gathered: quantiles decide
    assert not dense_key(integer, 1, 1000, None, 0.9)
    assert not dense_key(integer, 1, 1000, 0, 0.9)
    # dates and timestamps are not keys of consecutive values
    assert not dense_key(ColumnKind.DATE, date(2024, 1, 1), date(2024, 12, 31), 366, 0.9)


def test_histogram_cut_points_are_the_nearest_bounds_to_each_quantile() -> None:
    bounds = list(range(0, 1010, 10))  # 101 bounds: 100 buckets of equal frequency
    assert histogram_quantiles(bounds, 4) == [250, 500, 750]
    # 100 / 8 = 12.5 buckets per partition: the nearest bound, halves rounded up
    assert histogram_quantiles(bounds, 8) == [130, 250, 380, 500, 630, 750, 880]
    assert histogram_quantiles(bounds, 100) == bounds[1:-1]
    # fewer buckets than partitions, or nothing to cut: computed quantiles instead
    assert histogram_quantiles(bounds, 101) is None
    assert histogram_quantiles(bounds, 1) is None
    assert histogram_quantiles([5], 2) is None


def test_quantile_sql_per_method() -> None:
    pg = quantile_sql("percentile_disc", column_sql='"k"', source_sql='"s"."t"', where="a = 1",
                      count=4, sample=0.05)
    assert pg == ('SELECT unnest(percentile_disc(ARRAY[0.250000, 0.500000, 0.750000]::float8[]) '
                  'WITHIN GROUP (ORDER BY "k")) FROM "s"."t" TABLESAMPLE SYSTEM (5.000000) '
                  'WHERE "k" IS NOT NULL AND (a = 1)')
    window = quantile_sql("window", column_sql="`k`", source_sql="`t`", where=None, count=3)
    assert window == ("SELECT MIN(dvt_v) FROM (SELECT `k` AS dvt_v, NTILE(3) OVER (ORDER BY `k`) "
                      "AS dvt_tile FROM `t` WHERE `k` IS NOT NULL) dvt_q GROUP BY dvt_tile "
                      "HAVING dvt_tile > 1 ORDER BY dvt_tile")
    assert quantile_sql("none", column_sql="k", source_sql="t", where=None, count=3) is None


def test_sample_only_large_tables() -> None:
    config = PartitionConfig(sample_rows=1000)
    assert sample_fraction(None, config) is None
    assert sample_fraction(2000, config) is None
    assert sample_fraction(100_000, config) == 0.01
