"""Target tables in our own DDL: Spark type -> column type per dialect, staging names, swap SQL.

Spark's JDBC writer creates tables with its own defaults, and those lose data: it has no
MariaDB dialect (``"`` quotes, which MariaDB rejects) and creates timestamps without fractional
seconds. We create every target and staging table ourselves from ``df.schema``.

Everything per database is data: each module of :mod:`dvt_connect.databases` declares its
:class:`~dvt_connect.databases.spec.Dialect` (collected in :data:`DIALECTS`); the functions are
pure (no JVM), so a dry run can print the plan and tests need no database.

Timestamps. A Spark ``timestamp`` is an instant; a ``timestamp_ntz`` is a wall-clock time.
Where the target has an instant type (PostgreSQL ``TIMESTAMPTZ``, SQL Server
``DATETIMEOFFSET``, Oracle/DuckDB ``TIMESTAMP WITH TIME ZONE``) instants use it. MySQL/MariaDB
``TIMESTAMP`` ends in 2038 and converts through the session time zone, so instants go to
``DATETIME(6)`` holding the instant's UTC wall time (the column comment says ``UTC``); the same
holds for Derby, SQLite and the generic dialect (``instants_as_utc_wall``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from secrets import token_hex
from types import MappingProxyType
from typing import TYPE_CHECKING

from dvt_connect.databases import DATABASES, dialect_of, generic_dialect
from dvt_connect.databases.spec import Database as AdapterFacts
from dvt_connect.databases.spec import Dialect, Swap
from dvt_connect.errors import TransferError

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructField, StructType

# Spark's JDBC reader keeps a column's declared CHAR(n)/VARCHAR(n) in this metadata key.
CHAR_VARCHAR_KEY = "__CHAR_VARCHAR_TYPE_STRING"
# PostgreSQL TIME read by Spark arrives as timestamp_ntz on 1970-01-01 with this flag.
LOGICAL_TIME_KEY = "logical_time_type"

__all__ = ["DIALECTS", "OLD_MARK", "SIDE_MARKS", "STAGE_MARK", "ColumnDDL", "Dialect", "Swap",
           "TablePlan",
           "column_sql", "create_table_sql", "dialect_for", "drop_table_sql", "insert_select_sql",
           "logical_time",
           "merge_statements", "plan_columns", "primary_key_sql", "side_table_name",
           "side_token", "swap_statements", "token_time", "truncate_statements"]

STAGE_MARK = "__dvt_stage_"
OLD_MARK = "__dvt_old_"
SIDE_MARKS = (STAGE_MARK, OLD_MARK)


def side_token(now: float | None = None) -> str:
    """The suffix of a staging table or folder: its creation time (8 hex digits of Unix
    seconds) then 4 random hex digits. `dvt clean` reads the age of a killed run's leftover
    from it (not every database records when a table was created)."""
    return f"{int(time.time() if now is None else now):08x}{token_hex(2)}"


def token_time(token: str) -> float | None:
    """When a side table or folder was created, from its token (None: an older, random one)."""
    if re.fullmatch(r"[0-9a-f]{12}", token):
        return float(int(token[:8], 16))
    return None


# Every dialect by name (MariaDB shares MySQL's), from the database modules, and the generic one.
DIALECTS: Mapping[str, Dialect] = MappingProxyType({
    **{db.ddl.name: db.ddl for db in DATABASES.values() if db.ddl is not None},
    generic_dialect().name: generic_dialect(),
})


def dialect_for(facts: AdapterFacts) -> Dialect:
    """The DDL dialect of a database (the generic one for databases without their own)."""
    return dialect_of(facts)


@dataclass(frozen=True)
class ColumnDDL:
    name: str
    sql_type: str
    nullable: bool = True
    comment: str | None = None


@dataclass(frozen=True)
class TablePlan:
    """The columns of a table we create, and what the mapping could not keep exactly."""

    columns: tuple[ColumnDDL, ...]
    warnings: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def logical_time(f: StructField) -> bool:
    """Whether ``f`` is a time of day Spark holds as a ``timestamp_ntz`` on 1970-01-01 (a
    PostgreSQL TIME read by Spark, flagged so in its metadata): it gets a TIME column where the
    dialect has one."""
    from pyspark.sql.types import TimestampNTZType

    return isinstance(f.dataType, TimestampNTZType) and bool(
        (f.metadata or {}).get(LOGICAL_TIME_KEY))


def _declared_length(f: StructField) -> tuple[str, int] | None:
    declared = (f.metadata or {}).get(CHAR_VARCHAR_KEY)
    if not isinstance(declared, str):
        return None
    match = re.fullmatch(r"\s*(char|varchar)\s*\(\s*(\d+)\s*\)\s*", declared.lower())
    return (match.group(1), int(match.group(2))) if match else None


def _type_key(data_type: DataType) -> str | None:
    from pyspark.sql import types as t

    simple: list[tuple[type, str]] = [
        (t.BooleanType, "boolean"), (t.ByteType, "byte"), (t.ShortType, "short"),
        (t.IntegerType, "integer"), (t.LongType, "long"), (t.FloatType, "float"),
        (t.DoubleType, "double"), (t.BinaryType, "binary"), (t.DateType, "date"),
        (t.TimestampNTZType, "timestamp_ntz"), (t.TimestampType, "timestamp"),
    ]
    time_type = getattr(t, "TimeType", None)
    if time_type is not None:
        simple.append((time_type, "time"))
    for cls, key in simple:
        if isinstance(data_type, cls):
            return key
    return None


class _Planner:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.budget = dialect.varchar_row_budget
        self.warnings: list[str] = []

    def string(self, f: StructField) -> str:
        d = self.dialect
        declared = _declared_length(f)
        if declared is not None:
            kind, n = declared
            template = d.types[kind]
            if 0 < n <= d.varchar_limit and (
                self.budget is None or n * d.bytes_per_char <= self.budget
            ):
                if self.budget is not None:
                    self.budget -= n * d.bytes_per_char
                return template.format(n=n)
            return self.ladder(n)
        return self.ladder(None)

    def ladder(self, n: int | None) -> str:
        for limit, sql_type in self.dialect.text_ladder:
            if limit is None or (n is not None and n <= limit):
                return sql_type
        return self.dialect.text_ladder[-1][1]  # pragma: no cover - ladders end unbounded

    def scalar(self, f: StructField, data_type: DataType) -> str | None:
        """The column type, or None when the dialect cannot hold it."""
        from pyspark.sql import types as t

        d = self.dialect
        if isinstance(data_type, t.DecimalType):
            p, s = data_type.precision, data_type.scale
            if p > d.max_precision or (d.max_scale is not None and s > d.max_scale):
                raise _Unsupported(
                    f"decimal({p},{s}) is wider than {d.title} allows (precision up to "
                    f"{d.max_precision}" + (f", scale up to {d.max_scale}" if d.max_scale
                                            else "") + ")"
                )
            return d.types["decimal"].format(p=p, s=s)
        if isinstance(data_type, t.StringType):
            return self.string(f)
        key = _type_key(data_type)
        if key == "timestamp_ntz" and logical_time(f) and "time" in d.types:
            key = "time"
        if key is None or key not in d.types:
            return None
        if key in d.warnings:
            self.warnings.append(f"column `{f.name}`: {d.warnings[key]}")
        return d.types[key]

    def column(self, f: StructField) -> ColumnDDL:
        from pyspark.sql import types as t

        d = self.dialect
        data_type = f.dataType
        sql_type: str | None
        if isinstance(data_type, t.ArrayType):
            element = data_type.elementType
            inner = None
            if d.array and not isinstance(element, (t.ArrayType, t.MapType, t.StructType)):
                inner = self.scalar(t.StructField(f.name, element), element)
            if inner is None:
                raise _Unsupported(f"{data_type.simpleString()} has no {d.title} column type")
            sql_type = d.array.format(element=inner) if d.array else None
        else:
            sql_type = self.scalar(f, data_type)
        if sql_type is None:
            raise _Unsupported(f"{data_type.simpleString()} has no {d.title} column type")
        comment = d.instant_comment if isinstance(data_type, t.TimestampType) else None
        return ColumnDDL(f.name, sql_type, f.nullable, comment)


class _Unsupported(Exception):
    pass


def plan_columns(schema: StructType, dialect: Dialect,
                 declared: Mapping[str, str] | None = None) -> TablePlan:
    """Map every column of ``schema`` to ``dialect``; one TransferError names every column that
    cannot be held exactly (no silent change of a value). ``declared`` columns keep the source's
    own type (a move within one database)."""
    declared = declared or {}
    planner = _Planner(dialect)
    columns: list[ColumnDDL] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for f in schema.fields:
        folded = f.name.lower()
        if folded in seen:
            problems.append(f"`{f.name}` and `{seen[folded]}` differ only by case")
        seen[folded] = f.name
        try:
            if f.name in declared:
                columns.append(ColumnDDL(f.name, declared[f.name], f.nullable))
            else:
                columns.append(planner.column(f))
        except _Unsupported as exc:
            problems.append(f"`{f.name}`: {exc}")
    if not schema.fields:
        problems.append("the data has no columns")
    if problems:
        raise TransferError(
            f"cannot create a {dialect.title} table for this data: " + "; ".join(problems) + ".",
            hint="Convert those columns in the source query (for example cast to a string or a "
                 "narrower decimal), or write to a files target (Parquet keeps nested types).",
        )
    return TablePlan(tuple(columns), tuple(planner.warnings))


def column_sql(column: ColumnDDL, facts: AdapterFacts, dialect: Dialect) -> str:
    if dialect.nullable_type is None:
        text = f"{facts.quote_identifier(column.name)} {column.sql_type}"
        if not column.nullable:
            text += " NOT NULL"
    elif column.nullable:
        text = (f"{facts.quote_identifier(column.name)} "
                + dialect.nullable_type.format(type=column.sql_type))
    else:
        text = f"{facts.quote_identifier(column.name)} {column.sql_type}"
    if column.comment and dialect.comment_clause:
        text += dialect.comment_clause.format(text=facts.quote_literal(column.comment))
    return text


def create_table_sql(table_sql: str, plan: TablePlan, facts: AdapterFacts,
                     dialect: Dialect, key: tuple[str, ...] = ()) -> str:
    """``CREATE TABLE`` for an already quoted, qualified table name, with ``key`` as its
    primary key when given."""
    body = ", ".join(column_sql(c, facts, dialect) for c in plan.columns)
    if key:
        body += f", PRIMARY KEY ({', '.join(facts.quote_identifier(k) for k in key)})"
    return f"CREATE TABLE {table_sql} ({body}){dialect.table_options}"


def drop_table_sql(table_sql: str, dialect: Dialect, *, if_exists: bool = False) -> str:
    if if_exists and dialect.drop_if_exists:
        return f"DROP TABLE IF EXISTS {table_sql}"
    return f"DROP TABLE {table_sql}"


def insert_select_sql(target_sql: str, stage_sql: str, target_columns: tuple[str, ...],
                      stage_columns: tuple[str, ...], facts: AdapterFacts) -> str:
    """The append step: every staged row into the target, column by column."""
    into = ", ".join(facts.quote_identifier(c) for c in target_columns)
    select = ", ".join(facts.quote_identifier(c) for c in stage_columns)
    return f"INSERT INTO {target_sql} ({into}) SELECT {select} FROM {stage_sql}"


def side_table_name(target: str, mark: str, token: str, dialect: Dialect) -> str:
    """``<target><mark><token>``, the target part shortened to fit the identifier limit."""
    suffix = f"{mark}{token}"
    room = dialect.max_identifier - len(suffix)
    base = target
    if dialect.identifier_bytes:
        while len(base.encode("utf-8")) > room:
            base = base[:-1]
    else:
        base = base[:room]
    return base + suffix


def swap_statements(
    statements: tuple[str, ...],
    *,
    facts: AdapterFacts,
    schema: str | None,
    target: str,
    stage: str,
    old: str,
) -> list[str]:
    """Fill a :class:`Swap` template list for concrete names."""
    q = facts.quote_qualified
    values = {
        "target": q(schema, target),
        "target_name": facts.quote_identifier(target),
        "stage": q(schema, stage),
        "stage_name": facts.quote_identifier(stage),
        "old": q(schema, old),
        "old_name": facts.quote_identifier(old),
        "stage_literal": facts.quote_literal(q(schema, stage)),
        "target_name_literal": facts.quote_literal(target),
    }
    return [s.format(**values) for s in statements]


def merge_statements(dialect: Dialect, facts: AdapterFacts, *, target_sql: str, stage_sql: str,
                     target_columns: tuple[str, ...], stage_columns: tuple[str, ...],
                     keys: tuple[str, ...], stage_keys: tuple[str, ...]) -> list[str]:
    """The dialect's upsert of every staged row into the target by ``keys`` (target spelling;
    ``stage_keys`` the staging table's), for one transaction."""
    q = facts.quote_identifier
    merge = dialect.merge
    ref = merge.target_ref.format(target=target_sql)
    on = " AND ".join(f"{ref}.{q(k)} = s.{q(sk)}" for k, sk in zip(keys, stage_keys, strict=True))
    folded = {k.lower() for k in keys}
    pairs = [(c, sc) for c, sc in zip(target_columns, stage_columns, strict=True)
             if c.lower() not in folded]
    values = {
        "target": target_sql,
        "stage": stage_sql,
        "columns": ", ".join(q(c) for c in target_columns),
        "stage_columns": ", ".join(q(c) for c in stage_columns),
        "values": ", ".join(f"s.{q(c)}" for c in stage_columns),
        "keys": ", ".join(q(k) for k in keys),
        "on": on,
        "set": ", ".join(merge.set_item.format(col=q(c), value=q(sc)) for c, sc in pairs),
    }
    return [s.format(**values) for s in (merge.statements if pairs else merge.insert_only)]


def truncate_statements(dialect: Dialect, target_sql: str) -> list[str]:
    """What empties the target in ``--mode truncate`` (before the insert, same transaction),
    after the dialect's statements for a transaction taking an exclusive lock."""
    return [*dialect.exclusive_lock_prelude,
            *(s.format(target=target_sql) for s in dialect.truncate)]


def primary_key_sql(dialect: Dialect, facts: AdapterFacts, *, stage_sql: str, target: str,
                    keys: tuple[str, ...]) -> str:
    """The primary key a new target of a keyed merge gets (added to the staging table)."""
    suffix = "_pkey"
    room = dialect.max_identifier - len(suffix)
    name = target
    while len(name.encode("utf-8") if dialect.identifier_bytes else name) > room:
        name = name[:-1]
    return dialect.add_primary_key.format(
        stage=stage_sql, pk_name=facts.quote_identifier(name + suffix),
        keys=", ".join(facts.quote_identifier(k) for k in keys))
