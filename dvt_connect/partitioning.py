"""Partitioned reads, planned by pure functions.

A partitioned read is a list of predicates on one column, each becoming exactly one query against
the source. The planner here takes plain values — the column's kind, its bounds, optional quantile
boundaries, the row estimate, the cores — and returns :class:`Partition` s, so it is tested
without a database. It knows no SQL dialect: a connector does the few catalog lookups and the
one bounds query that feed it (for JDBC, :mod:`dvt_connect.connectors.jdbc.sql`) and says how a
bound is written as a literal.

Partitions are half-open ranges chained end to end, the first open below and the last open
above: every non-NULL value falls in exactly one (nothing lost or read twice at a bound, even
for rows added after the bounds were read), and NULLs are folded into the first. Boundaries are
quantiles of the column (from the catalog's histogram where it keeps a current one, else computed
by the dialect), so skewed keys are balanced; an even stride for a dense integer key (as even,
with no query) and where no quantiles can be had (Spark's own splitting, which leaves most
partitions empty on skewed keys: SPARK-19327).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Protocol

from dvt_connect.errors import UsageError

Value = int | date | datetime


@dataclass(frozen=True)
class Partition:
    """One slice of a read: a predicate pushed to the source (None reads everything)."""

    index: int
    predicate: str | None
    lower: Any = None
    upper: Any = None


class Overrides(Protocol):
    """The user's partitioning overrides a read request carries."""

    @property
    def partitions(self) -> int | None: ...

    @property
    def partition_column(self) -> str | None: ...


class ColumnKind(str, Enum):
    """Column types a range can be cut on."""

    INTEGER = "integer"
    DATE = "date"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class PartitionConfig:
    """How a read is split. ``partitions`` and ``column`` are the user's overrides
    (``--partitions``, ``--partition-column``, or the output's keys in profiles.yml); the rest
    sizes automatic plans."""

    partitions: int | None = None
    column: str | None = None
    rows_per_partition: int = 100_000
    # more partitions than cores only once each would hold more rows than this: every partition
    # costs a task, a connection and a file (measured, PostgreSQL -> Parquet of 1M rows on 2
    # cores: 2 partitions moved in 0.77-0.92 s, 8 in 1.11-1.26 s; at 5M and 20M 4 and 8 were
    # even)
    split_above: int = 500_000
    partitions_per_core: int = 4
    max_partitions: int = 64
    sample_rows: int = 200_000
    quantiles: bool = True
    # an integer primary key holding at least this share of the values between its bounds is
    # cut by an even stride, with no quantile query (MariaDB's sampled NTILE read the whole
    # column: 0.55-0.78 s at 5M rows)
    dense_key: float = 0.9
    # the quantile query is cancelled after this many seconds, and the range cut evenly
    # (MariaDB's sampled NTILE reads the whole column: 0.55-0.78 s at 5M rows)
    quantile_seconds: int = 10

    def __post_init__(self) -> None:
        if self.partitions is not None and self.partitions < 1:
            raise UsageError(f"--partitions must be at least 1, not {self.partitions}.")
        for name in ("rows_per_partition", "split_above", "partitions_per_core",
                     "max_partitions", "sample_rows", "quantile_seconds"):
            if getattr(self, name) < 1:
                raise UsageError(f"partition setting `{name}` must be at least 1.")

    def with_request(self, request: Overrides) -> PartitionConfig:
        """This config with the request's overrides applied."""
        return replace(
            self,
            partitions=request.partitions or self.partitions,
            column=request.partition_column or self.column,
        )


def partition_count(estimate: int | None, cores: int, config: PartitionConfig) -> tuple[int, str]:
    """How many partitions, and why: the override, else one per core, each of at least
    ``rows_per_partition`` rows (a small table gets fewer), and more only where partitions would
    hold more than ``split_above`` rows; at most ``partitions_per_core`` per core and
    ``max_partitions`` in all (each partition is a connection to the source while it runs)."""
    if config.partitions:
        return config.partitions, f"{config.partitions} requested"
    cores = max(1, cores)
    ceiling = max(1, min(cores * config.partitions_per_core, config.max_partitions))
    if estimate is None:
        count = min(cores, ceiling)
        return count, f"no row estimate: one partition per core ({cores})"
    by_size = math.ceil(estimate / config.rows_per_partition) if estimate > 0 else 1
    by_split = math.ceil(estimate / config.split_above) if estimate > 0 else 1
    wanted = max(min(cores, by_size), by_split)
    count = max(1, min(wanted, ceiling))
    if by_split > min(cores, by_size):
        why = f"about {estimate:,} rows at most {config.split_above:,} per partition"
    elif by_size >= cores:
        why = (f"about {estimate:,} rows: one partition per core ({cores}), none over "
               f"{config.split_above:,} rows")
    else:
        why = f"about {estimate:,} rows at {config.rows_per_partition:,} per partition"
    return count, why + (f", capped at {ceiling} ({cores} cores)" if wanted > ceiling else "")


# ---- values ------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)


def parse_value(kind: ColumnKind, text: str | None) -> Value | None:
    """A bound as the driver printed it (``getString``), read without any time zone shift."""
    if text is None:
        return None
    text = text.strip()
    if kind is ColumnKind.INTEGER:
        return int(text.split(".", 1)[0]) if re.fullmatch(r"-?\d+(\.0*)?", text) else int(text)
    if kind is ColumnKind.DATE:
        return date.fromisoformat(text[:10])
    # 2024-01-02 03:04:05[.ffffff][+hh[:mm]]; Python 3.10's fromisoformat wants exactly 6
    # fraction digits and a full offset
    match = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(?:([+-]\d{2})(?::?(\d{2}))?)?",
        text,
    )
    if not match:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text)
        raise ValueError(f"cannot read `{text}` as a timestamp")
    day, clock, fraction, off_h, off_m = match.groups()
    iso = f"{day} {clock}.{(fraction or '0')[:6].ljust(6, '0')}"
    if off_h:
        iso += f"{off_h}:{off_m or '00'}"
    return datetime.fromisoformat(iso)


def _to_number(kind: ColumnKind, value: Value) -> int:
    if kind is ColumnKind.INTEGER:
        return int(value)  # type: ignore[arg-type]
    if kind is ColumnKind.DATE:
        assert isinstance(value, date)
        return value.toordinal()
    assert isinstance(value, datetime)
    epoch = _EPOCH_UTC if value.tzinfo is not None else _EPOCH
    return (value - epoch) // _MICRO


def _from_number(kind: ColumnKind, number: int, like: Value) -> Value:
    if kind is ColumnKind.INTEGER:
        return number
    if kind is ColumnKind.DATE:
        return date.fromordinal(number)
    assert isinstance(like, datetime)
    if like.tzinfo is not None:
        return (_EPOCH_UTC + number * _MICRO).astimezone(like.tzinfo)
    return _EPOCH + number * _MICRO


def sql_literal(kind: ColumnKind, value: Value, quote_literal: Callable[[str], str],
                template: str = "{}") -> str:
    """A bound as SQL: integers bare, dates and timestamps as ISO strings the database compares
    against the column (``template`` wraps them where a dialect needs ``DATE '...'``)."""
    if kind is ColumnKind.INTEGER:
        return str(int(value))  # type: ignore[arg-type]
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ", timespec="microseconds")
    else:
        assert isinstance(value, date)
        text = value.isoformat()
    return template.format(quote_literal(text))


# ---- boundaries --------------------------------------------------------------------------

def stride_boundaries(kind: ColumnKind, lower: Value, upper: Value, count: int) -> list[Value]:
    """``count - 1`` cut points evenly spaced over ``[lower, upper]`` (fewer when there are
    fewer distinct values than partitions)."""
    lo, hi = _to_number(kind, lower), _to_number(kind, upper)
    distinct = hi - lo + 1
    count = max(1, min(count, distinct))
    cuts = sorted({lo + distinct * i // count for i in range(1, count)})
    return [_from_number(kind, c, lower) for c in cuts if lo < c <= hi]


def quantile_boundaries(values: Sequence[Value | None], lower: Value, upper: Value) -> list[Value]:
    """Cut points from quantiles computed by the source: distinct, inside ``(lower, upper]``.
    A value so frequent that it spans several quantiles yields one cut, not empty partitions."""
    return sorted({v for v in values if v is not None and lower < v <= upper})  # type: ignore[operator]


def dense_key(kind: ColumnKind, lower: Value | None, upper: Value | None,
              estimate: int | None, threshold: float) -> bool:
    """Whether a unique integer column holds at least ``threshold`` of the values between its
    bounds, by the catalog's row ``estimate``: an even stride then cuts it into partitions of
    about equal rows (the largest at most ``1 / threshold`` times the mean, while the estimate
    holds), as quantiles would."""
    if (kind is not ColumnKind.INTEGER or lower is None or upper is None or estimate is None
            or estimate <= 0):
        return False
    span = int(upper) - int(lower) + 1  # type: ignore[arg-type]
    return span > 1 and estimate >= threshold * span


def histogram_quantiles(bounds: Sequence[Value], count: int) -> list[Value] | None:
    """``count - 1`` cut points from the ascending bounds of an equal-frequency histogram (each
    bucket holds the same share of the rows): for each ``i / count``, the nearest bound. None
    when the histogram has fewer buckets than partitions (its cut points would be too coarse
    to balance them)."""
    buckets = len(bounds) - 1
    if count < 2 or buckets < count:
        return None
    return [bounds[(2 * i * buckets + count) // (2 * count)] for i in range(1, count)]


def build_partitions(
    column_sql: str,
    boundaries: Sequence[Value],
    render: Callable[[Value], str],
    *,
    nullable: bool,
) -> tuple[Partition, ...]:
    """Half-open ranges ``[b_i, b_i+1)`` between the cut points, open at both ends; NULLs go with
    the first. No cut points: one partition reading everything."""
    if not boundaries:
        return (Partition(index=0, predicate=None),)
    literals = [render(b) for b in boundaries]
    first = f"{column_sql} < {literals[0]}"
    if nullable:
        first += f" OR {column_sql} IS NULL"
    parts = [Partition(index=0, predicate=first, lower=None, upper=boundaries[0])]
    for i in range(1, len(boundaries)):
        parts.append(Partition(
            index=i,
            predicate=f"{column_sql} >= {literals[i - 1]} AND {column_sql} < {literals[i]}",
            lower=boundaries[i - 1],
            upper=boundaries[i],
        ))
    parts.append(Partition(index=len(boundaries), predicate=f"{column_sql} >= {literals[-1]}",
                           lower=boundaries[-1], upper=None))
    return tuple(parts)


@dataclass(frozen=True)
class PartitionPlan:
    partitions: tuple[Partition, ...]
    method: str
    notes: tuple[str, ...] = ()


def plan_partitions(
    *,
    column_sql: str,
    kind: ColumnKind,
    lower: Value | None,
    upper: Value | None,
    count: int,
    nullable: bool,
    render: Callable[[Value], str],
    quantiles: Sequence[Value | None] | None = None,
) -> PartitionPlan:
    """The partitions for one column: quantile cut points when given, else an even stride."""
    if lower is None or upper is None:
        return PartitionPlan((Partition(index=0, predicate=None),), "single",
                             ("the partition column has no values: one partition",))
    if count <= 1 or lower == upper:
        single = ("the partition column has a single value: one partition",) if count > 1 else ()
        return PartitionPlan((Partition(index=0, predicate=None),), "single", single)
    notes: list[str] = []
    if quantiles:
        cuts = quantile_boundaries(quantiles, lower, upper)
        method = "quantiles"
        if len(cuts) < count - 1:
            notes.append(f"{len(cuts) + 1} partition(s) instead of {count}: the column has few "
                         "distinct values or one value dominates")
    else:
        cuts = stride_boundaries(kind, lower, upper, count)
        method = "stride"
        if len(cuts) < count - 1:
            notes.append(f"{len(cuts) + 1} partition(s) instead of {count}: only "
                         f"{len(cuts) + 1} distinct values between the bounds")
    return PartitionPlan(build_partitions(column_sql, cuts, render, nullable=nullable), method,
                         tuple(notes))


# ---- sampling ------------------------------------------------------------------------------

def sample_fraction(estimate: int | None, config: PartitionConfig) -> float | None:
    """The fraction of rows to sample for quantiles; None reads all (small or unknown size)."""
    if estimate is None or estimate <= 2 * config.sample_rows:
        return None
    return config.sample_rows / estimate


def describe_value(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value
