"""Incremental reads, planned by pure functions: the high-water mark, the lookback window and
the predicate added to the source read.

The mark is ``MAX(update_key)`` read from the target itself (no state file to lose or drift),
kept as exact text: integers and decimals as written, dates as ISO dates, timestamps as the UTC
wall time with microseconds. The predicate is written in the *source's* literal rules
(:func:`read_predicate`), so a mark read from MariaDB compares right on PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from dvt_connect.databases.spec import Database
from dvt_connect.errors import UsageError

KINDS = ("integer", "decimal", "date", "timestamp")

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Mark:
    """The target's high-water mark: its kind and exact text (timestamps: UTC wall time)."""

    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


def mark_of(value: Any, column: str) -> Mark | None:
    """A Mark from a value a database client returned for ``MAX(column)`` (None: no rows)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _unusable(column, "boolean")
    if isinstance(value, int):
        return Mark("integer", str(value))
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            return Mark("integer", str(int(value)))
        return Mark("decimal", format(value, "f"))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return Mark("timestamp", value.isoformat(sep=" ", timespec="microseconds"))
    if isinstance(value, date):
        return Mark("date", value.isoformat())
    raise _unusable(column, type(value).__name__)


def _unusable(column: str, kind: str) -> UsageError:
    return UsageError(
        f"--update-key `{column}` is a {kind} column; an update key must be an integer, decimal, "
        "date or timestamp column (its order says which rows are new).")


def parse_lookback(text: str) -> timedelta | Decimal:
    """``--lookback``: a duration (``90s``, ``15m``, ``2h``, ``1d``, ``1w``) for date and
    timestamp keys, or a plain number for numeric keys."""
    raw = text.strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)", raw)
    if match:
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return Decimal(raw)
    raise UsageError(f"--lookback `{text}` is neither a duration (90s, 15m, 2h, 1d, 1w) nor a "
                     "number.")


def start_of_window(mark: Mark, lookback: str | None) -> Mark:
    """The mark moved back by ``lookback`` (unchanged without one)."""
    if not lookback:
        return mark
    back = parse_lookback(lookback)
    if mark.kind in ("integer", "decimal"):
        if not isinstance(back, Decimal):
            raise UsageError(f"--lookback `{lookback}` is a duration, but the update key is "
                             f"numeric; give a number (e.g. --lookback 1000).")
        value = Decimal(mark.text) - back
        if mark.kind == "integer":
            if value != value.to_integral_value():
                raise UsageError(f"--lookback `{lookback}` must be a whole number for an integer "
                                 "update key.")
            return Mark("integer", str(int(value)))
        return Mark("decimal", format(value, "f"))
    if not isinstance(back, timedelta):
        raise UsageError(f"--lookback `{lookback}` is a number, but the update key is a "
                         f"{mark.kind}; give a duration (e.g. --lookback 2h).")
    if mark.kind == "date":
        days = back.total_seconds() / 86400
        if days != int(days):
            raise UsageError(f"--lookback `{lookback}` must be whole days for a date update key.")
        return Mark("date", (date.fromisoformat(mark.text) - timedelta(days=int(days)))
                    .isoformat())
    moved = datetime.fromisoformat(mark.text) - back
    return Mark("timestamp", moved.isoformat(sep=" ", timespec="microseconds"))


def literal(mark: Mark, facts: Database) -> str:
    """The mark as a SQL literal of ``facts``' database (its date/timestamp wrappers; a UTC
    offset where the database compares timestamps with one)."""
    if mark.kind in ("integer", "decimal"):
        return mark.text
    text = mark.text
    if mark.kind == "timestamp" and facts.timestamp_offsets:
        text += "+00:00"
    return facts.literals.get(mark.kind, "{}").format(facts.quote_literal(text))


def read_predicate(column: str, mark: Mark, facts: Database, *, inclusive: bool,
                   spark_sql: bool = False) -> str:
    """``column > mark`` (``>=`` from the start of a lookback window) in the source's SQL
    (Spark's, for a files source)."""
    op = ">=" if inclusive else ">"
    if spark_sql:
        return f"`{column.replace('`', '``')}` {op} {spark_literal(mark)}"
    return f"{facts.quote_identifier(column)} {op} {literal(mark, facts)}"


def spark_literal(mark: Mark) -> str:
    """The mark as a Spark SQL literal (files: the session time zone is UTC)."""
    if mark.kind in ("integer", "decimal"):
        return mark.text
    prefix = "DATE" if mark.kind == "date" else "TIMESTAMP"
    return f"{prefix} '{mark.text}'"


def parse_range(text: str) -> tuple[Mark, Mark]:
    """``--range START..END`` (half-open: START included, END not) as two marks of one kind:
    integers, decimals, dates (``2024-01-01``) or timestamps (``2024-01-01 10:00:00[.ffffff]``,
    an offset is converted to UTC)."""
    start, sep, end = text.partition("..")
    if not sep or not start.strip() or not end.strip():
        raise UsageError(f"--range `{text}` is not START..END (e.g. 2024-01-01..2024-02-01 or "
                         "1000..2000).")
    low, high = _range_value(start.strip(), text), _range_value(end.strip(), text)
    if low.kind != high.kind:
        raise UsageError(f"--range `{text}`: START is a {low.kind} and END a {high.kind}.")
    if _order(low) >= _order(high):
        raise UsageError(f"--range `{text}`: START must be before END (END is not included).")
    return low, high


def _range_value(text: str, whole: str) -> Mark:
    if re.fullmatch(r"-?\d+", text):
        return Mark("integer", str(int(text)))
    if re.fullmatch(r"-?\d+\.\d+", text):
        return Mark("decimal", text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return Mark("date", date.fromisoformat(text).isoformat())
        except ValueError:
            pass
    else:
        try:
            mark = mark_of(datetime.fromisoformat(text), "--range")
            if mark is not None:
                return mark
        except ValueError:
            pass
    raise UsageError(f"--range `{whole}`: `{text}` is not an integer, decimal, date or "
                     "timestamp.")


def _order(mark: Mark) -> Any:
    if mark.kind in ("integer", "decimal"):
        return Decimal(mark.text)
    return mark.text  # ISO text sorts as the value does


def range_predicate(column: str, low: Mark, high: Mark, facts: Database, *,
                    spark_sql: bool = False) -> str:
    """``column >= START AND column < END`` in a database's (or Spark's) SQL."""
    if spark_sql:
        col = f"`{column.replace('`', '``')}`"
        return f"{col} >= {spark_literal(low)} AND {col} < {spark_literal(high)}"
    col = facts.quote_identifier(column)
    return f"{col} >= {literal(low, facts)} AND {col} < {literal(high, facts)}"


def and_where(where: str | None, predicate: str | None) -> str | None:
    if not predicate:
        return where
    return f"({where}) AND ({predicate})" if where else predicate
