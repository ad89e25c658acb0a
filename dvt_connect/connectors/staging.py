"""The staged write, written once: a staging table, filled, then swapped in or inserted from.

Every database target goes through :func:`staged_write`: the JDBC writer
(:mod:`dvt_connect.connectors.jdbc.writer`) fills the stage with Spark's JDBC append, the bulk
paths (:mod:`dvt_connect.connectors.arrow_bulk`) with their bulk loaders. Each supplies only a
session (:class:`SqlSession`) and how to ``fill`` the stage; the table plan, DDL, staging
names and swap statements are the database's dialect (:mod:`dvt_connect.connectors.jdbc.ddl`),
so every path creates exactly the same table.

Then, in one transaction (or the dialect's atomic rename):

- ``overwrite``: the staging table replaces the target;
- ``append``: ``INSERT INTO target SELECT ... FROM stage``, committed at once, then the staging
  table is dropped. An absent target is created from the staging table (a rename).

A failure at any point before that commit leaves the target exactly as it was, and the staging
table is dropped on the way out, so re-running a failed write cannot duplicate rows.
"""

from __future__ import annotations

import secrets as token_source
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import TableRef, WriteOutcome, WriteRequest
from dvt_connect.connectors.jdbc.ddl import (
    OLD_MARK,
    STAGE_MARK,
    Dialect,
    TablePlan,
    create_table_sql,
    dialect_for,
    drop_table_sql,
    insert_select_sql,
    plan_columns,
    side_table_name,
    swap_statements,
)
from dvt_connect.errors import TransferError, UsageError
from dvt_connect.secrets import redact

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from dvt_connect.console import Console

RETRY_SAFE_NOTE = "retry-safe: a failed write leaves the target unchanged"


class SqlSession(Protocol):
    """What the staged write needs from a database connection (autocommit on)."""

    def execute(self, sql: str) -> None: ...

    def transaction(self, statements: list[str]) -> None: ...

    def current_schema(self) -> str | None: ...

    def table_kind(self, schema: str | None, name: str) -> str | None:
        """``"table"``, ``"view"`` or None when absent."""

    def columns(self, schema: str | None, name: str) -> list[str]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Stage:
    """Where ``fill`` loads the rows: the staging table, by schema and bare name."""

    schema: str | None
    name: str
    columns: tuple[str, ...]
    sql: str = ""  # the qualified, quoted name


class Warnings:
    """Warnings go to the console as they happen (a failing write still shows its cleanup
    problems) and into the outcome's notes."""

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)
        if self.console is not None:
            self.console.warn(message)


def check_request(connection: Connection, request: WriteRequest) -> TableRef:
    """The target table of a database write; our own checks fail before anything is created."""
    if request.table is None:
        raise UsageError(f"writing to database output `{connection.name}` needs --target-table "
                         "(`table` or `schema.table`).")
    if request.partition_by:
        raise UsageError("--partition-by applies to files targets, not to database output "
                         f"`{connection.name}`.")
    return request.table


def staged_write(
    connection: Connection,
    df: DataFrame,
    request: WriteRequest,
    *,
    open_session: Callable[[], SqlSession],
    fill: Callable[[Stage], Sequence[str] | None],
    console: Console | None = None,
    how: str = "",
    warnings: Sequence[str] = (),
) -> WriteOutcome:
    """Create the staging table, ``fill`` it, then swap it in (overwrite) or insert from it in
    one transaction (append); the staging table never outlives the call. ``fill`` may return
    statements that load the stage (a warehouse's COPY from a bucket): they run first in that
    same transaction. ``warnings`` are the caller's own, reported with the plan's."""
    table = check_request(connection, request)
    facts = connection.facts
    dialect = dialect_for(facts)
    plan = plan_columns(df.schema, dialect, declared=request.column_types)
    reported = Warnings(console)
    for warning in (*plan.warnings, *warnings):
        reported.add(warning)

    db = open_session()
    try:
        schema = table.schema or _default_schema(connection) or db.current_schema()
        target = TableRef(table.name, schema)
        kind = db.table_kind(schema, target.name)
        if kind == "view":
            raise TransferError(
                f"`{target}` on output `{connection.name}` is a view, not a table; dvt writes "
                "tables only.", hint="Choose another --target-table.")
        existing = db.columns(schema, target.name) if kind is not None else None
        append_columns: tuple[str, ...] = ()
        if request.mode == "append" and existing is not None:
            append_columns = match_columns(plan, existing, target, connection)

        token = token_source.token_hex(4)
        stage = side_table_name(target.name, STAGE_MARK, token, dialect)
        old = side_table_name(target.name, OLD_MARK, token, dialect)
        stage_sql = facts.quote_qualified(schema, stage)
        target_sql = target.sql(facts)

        def fill_in(statements: tuple[str, ...]) -> list[str]:
            return swap_statements(statements, facts=facts, schema=schema, target=target.name,
                                   stage=stage, old=old)

        db.execute(create_table_sql(stage_sql, plan, facts, dialect))
        stage_exists = True
        try:
            loads = list(fill(Stage(schema, stage, plan.names, stage_sql)) or ())
            if request.mode == "append" and existing is not None:
                db.transaction([*loads, insert_select_sql(target_sql, stage_sql, append_columns,
                                                          plan.names, facts)])
                notes = [f"appended to `{target}` through staging table `{stage}` in one "
                         "transaction"]
            else:
                _swap(db, dialect, fill_in, replace=existing is not None, loads=loads)
                stage_exists = False
                notes = _swap_notes(target, stage, dialect, existing, plan)
                if existing is not None:
                    _after(db, dialect, fill_in, old, reported)
        finally:
            if stage_exists:
                _drop_quietly(db, open_session, drop_table_sql(stage_sql, dialect,
                                                               if_exists=True),
                              stage_sql, reported)
    finally:
        db.close()
    if how:
        notes.insert(0, how)
    notes.append(RETRY_SAFE_NOTE)
    return WriteOutcome(bytes_written=None, location=f"{target} ({connection.location()})",
                        notes=tuple(notes + [f"warning: {w}" for w in reported.messages]))


def guard_values(df: DataFrame, dialect: Dialect) -> DataFrame:
    """``df`` failing, in the one action, at the first value the target cannot store (NaN and
    infinities where the dialect has none), with an error naming the column and the value;
    the stage is dropped and the target left as it was."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    from dvt_connect.connectors.typeplan import nan_guard_message

    floats = [f.name for f in df.schema.fields if isinstance(f.dataType, (FloatType, DoubleType))]
    if dialect.holds_nan or not floats:
        return df

    def guarded(name: str) -> Any:
        col = F.col("`" + name.replace("`", "``") + "`")
        bad = F.isnan(col) | col.isin(float("inf"), float("-inf"))
        before, after = nan_guard_message(name, "{value}", dialect.title).split("{value}")
        return F.when(bad, F.raise_error(F.concat(F.lit(before), col.cast("string"),
                                                  F.lit(after)))
                      ).otherwise(col).cast(df.schema[name].dataType).alias(name)

    return df.select(*[guarded(f.name) if f.name in floats
                       else F.col("`" + f.name.replace("`", "``") + "`")
                       for f in df.schema.fields])


def _default_schema(connection: Connection) -> str | None:
    # MySQL/MariaDB: `schema:` is an alias of the database; PostgreSQL: the output's schema
    if connection.facts.schema_is_catalog:
        return connection.database
    return connection.schema


_Fill = Callable[[tuple[str, ...]], list[str]]


def _swap(db: SqlSession, dialect: Dialect, fill: _Fill, *, replace: bool,
          loads: Sequence[str] = ()) -> None:
    swap = dialect.swap
    statements = fill(swap.replace if replace else swap.create)
    if swap.transactional:
        db.transaction([*loads, *statements])
        return
    for sql in loads:
        db.execute(sql)
    done = 0
    try:
        for sql in statements:
            db.execute(sql)
            done += 1
    except BaseException:
        if done and replace and swap.undo:
            for sql in fill(swap.undo):
                db.execute(sql)
        raise


def _after(db: SqlSession, dialect: Dialect, fill: _Fill, old: str, warnings: Warnings) -> None:
    """Statements after a committed swap (dropping the old table). Failing here cannot hurt the
    new target, so it is a warning naming what was left behind."""
    for sql in fill(dialect.swap.after):
        try:
            db.execute(sql)
        except Exception as exc:  # noqa: BLE001 - the new target is in place; report the rest
            warnings.add(f"the previous table, renamed to `{old}`, could not be dropped "
                         f"({first_line(exc)}); drop it by hand")


def _swap_notes(target: TableRef, stage: str, dialect: Dialect, existing: list[str] | None,
                plan: TablePlan) -> list[str]:
    if existing is None:
        return [f"created `{target}` with {len(plan.columns)} column(s) (our {dialect.title} "
                f"DDL), from staging table `{stage}`"]
    notes = [f"replaced `{target}`: staging table `{stage}` {dialect.swap.how}; the previous "
             "table's indexes, constraints and grants are not kept"]
    if list(existing) != list(plan.names):
        notes.append(f"the previous `{target}` had different columns ({', '.join(existing)}); "
                     f"it was replaced by ({', '.join(plan.names)})")
    return notes


def match_columns(plan: TablePlan, existing: list[str], target: TableRef,
                  connection: Connection) -> tuple[str, ...]:
    """The target's spelling of each column we append (exact name first, then ignoring case);
    a column the target lacks is an error before anything is written."""
    exact = set(existing)
    folded = {c.lower(): c for c in existing}
    matched: list[str] = []
    missing: list[str] = []
    for name in plan.names:
        if name in exact:
            matched.append(name)
        elif name.lower() in folded:
            matched.append(folded[name.lower()])
        else:
            missing.append(name)
    if missing:
        raise TransferError(
            f"cannot append to `{target}` on output `{connection.name}`: it has no column(s) "
            + ", ".join(f"`{m}`" for m in missing) + f" (it has {', '.join(existing)}).",
            hint="Select matching columns with --columns/--query, or use --mode overwrite to "
                 "replace the table.",
        )
    return tuple(matched)


def _drop_quietly(db: SqlSession, open_session: Callable[[], SqlSession], sql: str,
                  table_sql: str, warnings: Warnings) -> None:
    """Drop the staging table; on a broken connection, once more on a fresh one."""
    try:
        db.execute(sql)
        return
    except Exception:  # noqa: BLE001 - cleanup must not hide the error that brought us here
        pass
    try:
        fresh = open_session()
        try:
            fresh.execute(sql)
        finally:
            fresh.close()
    except Exception as exc:  # noqa: BLE001
        warnings.add(f"staging table {table_sql} could not be dropped ({first_line(exc)}); "
                     "drop it by hand")


def first_line(exc: BaseException) -> str:
    """The first line of an error (a Java exception's own message when there is one)."""
    java = getattr(exc, "java_exception", None)
    text = str(java.getMessage()) if java is not None else str(exc)
    return redact((text.strip().splitlines() or [type(exc).__name__])[0][:300])
