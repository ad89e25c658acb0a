"""The SQL that feeds the partition planner over JDBC: which column types can be cut, the
bounds query, the quantile queries a database can run (named by its catalog facts), and how a
bound is written as a literal in its dialect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from dvt_connect.databases.spec import Database
from dvt_connect.partitioning import ColumnKind

# java.sql.Types codes -> kind. NUMERIC/DECIMAL count as integers only with a declared precision
# and scale 0 (PostgreSQL's unconstrained `numeric` reports precision 0 and scale 0, and holds
# fractions).
_JDBC_KINDS: Mapping[int, ColumnKind] = MappingProxyType({
    -6: ColumnKind.INTEGER,  # TINYINT
    5: ColumnKind.INTEGER,  # SMALLINT
    4: ColumnKind.INTEGER,  # INTEGER
    -5: ColumnKind.INTEGER,  # BIGINT
    91: ColumnKind.DATE,  # DATE
    93: ColumnKind.TIMESTAMP,  # TIMESTAMP
    2014: ColumnKind.TIMESTAMP,  # TIMESTAMP_WITH_TIMEZONE
})
_JDBC_DECIMALS = (2, 3)  # NUMERIC, DECIMAL


def column_kind(jdbc_type: int, scale: int = 0, precision: int | None = None,
                ) -> ColumnKind | None:
    """The partitionable kind of a JDBC column type, or None (strings, floats, booleans...).
    ``precision`` 0 is a decimal without a declared precision (None: not known)."""
    if jdbc_type in _JDBC_DECIMALS:
        return ColumnKind.INTEGER if scale == 0 and precision != 0 else None
    return _JDBC_KINDS.get(jdbc_type)


def literal_template(facts: Database, kind: ColumnKind) -> str:
    """How ``facts`` writes a date or timestamp bound (``{}`` is the quoted ISO string): bare
    where it compares those columns with an ISO string, else its declared wrapper."""
    return facts.literals.get(kind.value, "{}")


def bounds_sql(column_sql: str, source_sql: str, where: str | None,
               extras: Sequence[str] = ()) -> str:
    """One query: the column's bounds, then one column per catalog query in ``extras`` (each
    returns one value: the row estimate when not yet known, the column's histogram)."""
    extra = "".join(f", ({sql})" for sql in extras)
    clause = f" WHERE {where}" if where else ""
    return f"SELECT MIN({column_sql}), MAX({column_sql}){extra} FROM {source_sql}{clause}"


def quantile_sql(
    method: str,
    *,
    column_sql: str,
    source_sql: str,
    where: str | None,
    count: int,
    sample: float | None = None,
    is_table: bool = True,
) -> str | None:
    """SQL returning ``count - 1`` cut points (one per row, ascending), or None when the dialect
    cannot compute quantiles. ``sample`` (0-1) reads a fraction of the rows: PostgreSQL samples
    whole blocks of a table (cheap); the window method filters rows at random."""
    conditions = [f"{column_sql} IS NOT NULL"] + ([f"({where})"] if where else [])
    if method == "percentile_disc":
        fractions = ", ".join(f"{i / count:.6f}" for i in range(1, count))
        sampled = (f" TABLESAMPLE SYSTEM ({sample * 100:.6f})"
                   if sample is not None and is_table else "")
        return (f"SELECT unnest(percentile_disc(ARRAY[{fractions}]::float8[]) WITHIN GROUP "
                f"(ORDER BY {column_sql})) FROM {source_sql}{sampled} "
                f"WHERE {' AND '.join(conditions)}")
    if method == "window":
        if sample is not None:
            conditions.append(f"RAND() < {sample:.6f}")
        return (f"SELECT MIN(dvt_v) FROM (SELECT {column_sql} AS dvt_v, NTILE({count}) OVER "
                f"(ORDER BY {column_sql}) AS dvt_tile FROM {source_sql} "
                f"WHERE {' AND '.join(conditions)}) dvt_q "
                "GROUP BY dvt_tile HAVING dvt_tile > 1 ORDER BY dvt_tile")
    return None
