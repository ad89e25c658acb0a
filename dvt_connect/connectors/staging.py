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

import contextlib
import hashlib
import time
from collections.abc import Callable, Collection, Sequence
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
    merge_statements,
    plan_columns,
    primary_key_sql,
    side_table_name,
    side_token,
    swap_statements,
    truncate_statements,
)
from dvt_connect.databases.spec import Database
from dvt_connect.errors import TransferError, UsageError
from dvt_connect.incremental import Mark, mark_of, parse_range, range_predicate
from dvt_connect.secrets import redact

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

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

    def query(self, sql: str, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Rows of a small query, as Python values (int, Decimal, date, datetime, str)."""

    def unique_keys(self, schema: str | None, name: str) -> list[tuple[str, ...]]:
        """The columns of each primary key and unique index of a table."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Stage:
    """Where ``fill`` loads the rows: the staging table, by schema and bare name."""

    schema: str | None
    name: str
    columns: tuple[str, ...]
    sql: str = ""  # the qualified, quoted name
    key: tuple[str, ...] = ()  # its primary key, created with it (see table_key)


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
    df: DataFrame | StructType,
    request: WriteRequest,
    *,
    open_session: Callable[[], SqlSession],
    fill: Callable[[Stage], Sequence[str] | None],
    console: Console | None = None,
    how: str = "",
    warnings: Sequence[str] = (),
) -> WriteOutcome:
    """Create the staging table, ``fill`` it, then carry out the mode in one transaction (or the
    dialect's atomic rename): swap it in (overwrite), insert from it (append), empty the target
    and insert (truncate), or upsert by key (merge, incremental with a key). The whole write runs
    under the target's lock where the dialect has one; the staging table never outlives the call.
    ``fill`` may return statements that load the stage (a warehouse's COPY from a bucket): they
    run first in the swap's or insert's transaction (before the checks a merge or truncate
    needs, otherwise). ``warnings`` are the caller's own, reported with the plan's."""
    table = check_request(connection, request)
    facts = connection.facts
    dialect = dialect_for(facts)
    from pyspark.sql.types import StructType

    # an Arrow end-to-end write has a schema and no DataFrame
    plan = plan_columns(df if isinstance(df, StructType) else df.schema, dialect,
                        declared=request.column_types)
    stage_keys = tuple(_data_column(plan, k, "--primary-key", connection)
                       for k in request.primary_key)
    if request.update_key:
        _data_column(plan, request.update_key, "--update-key", connection)
    reported = Warnings(console)
    for warning in (*plan.warnings, *warnings):
        reported.add(warning)

    db = open_session()
    inserted = updated = None
    mark: Mark | None = None
    try:
        schema = table.schema or _default_schema(connection) or db.current_schema()
        target = TableRef(table.name, schema)
        locked = take_lock(db, dialect, target, request.lock_timeout, console)
        try:
            kind = db.table_kind(schema, target.name)
            if kind == "view":
                raise TransferError(
                    f"`{target}` on output `{connection.name}` is a view, not a table; dvt "
                    "writes tables only.", hint="Choose another --target-table.")
            existing = db.columns(schema, target.name) if kind is not None else None
            target_sql = target.sql(facts)
            if request.planned and not request.merges:
                _check_mark_unmoved(db, request, target_sql, existing, facts, target)
            columns: tuple[str, ...] = ()
            keys: tuple[str, ...] = ()
            if request.mode != "overwrite" and existing is not None:
                columns = match_columns(plan, existing, target, connection)
                if request.merges:
                    keys = tuple(columns[plan.names.index(k)] for k in stage_keys)
                    _check_unique_key(db, schema, target, keys, connection, reported)

            token = side_token()
            stage = side_table_name(target.name, STAGE_MARK, token, dialect)
            old = side_table_name(target.name, OLD_MARK, token, dialect)
            stage_sql = facts.quote_qualified(schema, stage)

            def fill_in(statements: tuple[str, ...]) -> list[str]:
                return swap_statements(statements, facts=facts, schema=schema,
                                       target=target.name, stage=stage, old=old)

            key = tuple(_data_column(plan, k, "the source's primary key", connection)
                        for k in table_key(request, dialect))
            db.execute(create_table_sql(stage_sql, plan, facts, dialect, key=key))
            stage_exists = True
            try:
                loads = list(fill(Stage(schema, stage, plan.names, stage_sql, key)) or ())
                if loads and (request.merges or request.mode == "truncate"):
                    db.transaction(loads)  # the checks below read the loaded stage
                    loads = []
                if request.merges:
                    staged = _check_batch(db, stage_sql, stage_keys, facts, request)
                if existing is None:
                    if request.merges:
                        _exclusive(db, dialect.exclusive_lock_prelude, primary_key_sql(
                            dialect, facts, stage_sql=stage_sql, target=target.name,
                            keys=stage_keys))
                        inserted, updated = staged, 0
                    _swap(db, dialect, fill_in, replace=False, loads=loads)
                    stage_exists = False
                    notes = _swap_notes(target, stage, dialect, existing, plan)
                    if request.merges:
                        notes.append(f"primary key ({', '.join(stage_keys)}) added")
                elif request.mode == "overwrite":
                    _swap(db, dialect, fill_in, replace=True, loads=loads)
                    stage_exists = False
                    notes = _swap_notes(target, stage, dialect, existing, plan)
                    _after(db, dialect, fill_in, old, reported)
                elif request.merges:
                    inserted = _count(db, _new_keys_sql(facts, target_sql, stage_sql, keys,
                                                        stage_keys))
                    updated = staged - inserted
                    db.transaction(merge_statements(
                        dialect, facts, target_sql=target_sql, stage_sql=stage_sql,
                        target_columns=columns, stage_columns=plan.names, keys=keys,
                        stage_keys=stage_keys))
                    notes = [f"merged into `{target}` by ({', '.join(keys)}) from staging table "
                             f"`{stage}`: {dialect.merge.how}"]
                elif request.mode == "backfill":
                    assert request.update_key is not None and request.range is not None
                    low, high = parse_range(request.range)
                    column = _target_column(existing, request.update_key, "--update-key", target)
                    where = range_predicate(column, low, high, facts)
                    deleted = _count(db, f"SELECT COUNT(*) FROM {target_sql} WHERE {where}")
                    db.transaction([f"DELETE FROM {target_sql} WHERE {where}",
                                    insert_select_sql(target_sql, stage_sql, columns,
                                                      plan.names, facts)])
                    notes = [f"backfill: replaced the {deleted:,} row(s) of `{target}` with "
                             f"{where} by the source's, in one transaction"]
                elif request.mode == "truncate":
                    statements = truncate_statements(dialect, target_sql) + [
                        insert_select_sql(target_sql, stage_sql, columns, plan.names, facts)]
                    if dialect.truncate_atomic:
                        db.transaction(statements)
                        notes = [f"replaced the rows of `{target}` (table, keys, indexes, "
                                 "grants and views kept) in one transaction"]
                    else:
                        for sql in statements:
                            db.execute(sql)
                        notes = [f"replaced the rows of `{target}` (table kept); not atomic: "
                                 f"{dialect.title} has no transactions"]
                else:  # append, incremental without a key
                    db.transaction([*loads, insert_select_sql(target_sql, stage_sql, columns,
                                                              plan.names, facts)])
                    notes = [f"appended to `{target}` through staging table `{stage}` in one "
                             "transaction"]
                if key:
                    notes.append(_key_note(key, dialect))
            finally:
                if stage_exists:
                    _drop_quietly(db, open_session, drop_table_sql(stage_sql, dialect,
                                                                   if_exists=True),
                                  stage_sql, reported, dialect.exclusive_lock_prelude)
            if request.update_key:
                mark = read_mark(db, target_sql, request.update_key, facts)
        finally:
            if locked:
                release_lock(db, dialect, target)
    finally:
        db.close()
    if how:
        notes.insert(0, how)
    notes.append(RETRY_SAFE_NOTE)
    return WriteOutcome(bytes_written=None, location=f"{target} ({connection.location()})",
                        notes=tuple(notes + [f"warning: {w}" for w in reported.messages]),
                        inserted=inserted, updated=updated, high_water_mark=mark)


# ---- keys, marks and locks -----------------------------------------------------------------

def _data_column(plan: TablePlan, name: str, option: str, connection: Connection) -> str:
    """The data's spelling of a column named in an option (exact, then ignoring case)."""
    if name in plan.names:
        return name
    folded = {n.lower(): n for n in plan.names}
    if name.lower() in folded:
        return folded[name.lower()]
    raise UsageError(f"{option} `{name}` is not a column of the data written to "
                     f"`{connection.name}` (columns: {', '.join(plan.names)}).")


def _count(db: SqlSession, sql: str) -> int:
    rows = db.query(sql)
    return int(rows[0][0] or 0) if rows else 0


def _new_keys_sql(facts: Database, target_sql: str, stage_sql: str, keys: tuple[str, ...],
                  stage_keys: tuple[str, ...]) -> str:
    q = facts.quote_identifier
    on = " AND ".join(f"t.{q(k)} = s.{q(sk)}" for k, sk in zip(keys, stage_keys, strict=True))
    return (f"SELECT COUNT(*) FROM {stage_sql} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {target_sql} t WHERE {on})")


def _check_unique_key(db: SqlSession, schema: str | None, target: TableRef,
                      keys: tuple[str, ...], connection: Connection, warnings: Warnings) -> None:
    """A merge needs a primary key or unique index on exactly the key columns."""
    unique = db.unique_keys(schema, target.name)
    wanted = {k.lower() for k in keys}
    if any({c.lower() for c in cols} == wanted for cols in unique):
        others = [cols for cols in unique if {c.lower() for c in cols} != wanted]
        if others and dialect_for(connection.facts).merge.any_unique_key:
            warnings.add(f"`{target}` has other unique keys ("
                         + "; ".join(", ".join(c) for c in others)
                         + "): a staged row that collides on one of them updates that row")
        return
    found = "; ".join("(" + ", ".join(c) + ")" for c in unique) or "none"
    raise TransferError(
        f"cannot merge into `{target}` on output `{connection.name}` by "
        f"({', '.join(keys)}): it has no primary key or unique index on exactly those "
        f"column(s) (unique keys: {found}).",
        hint=f"Add one (ALTER TABLE {target.sql(connection.facts)} ADD PRIMARY KEY "
             f"({', '.join(connection.facts.quote_identifier(k) for k in keys)})), name the "
             "key the target has in --primary-key, or use --mode truncate/overwrite.")


def _check_batch(db: SqlSession, stage_sql: str, keys: tuple[str, ...], facts: Database,
                 request: WriteRequest) -> int:
    """Every staged row has a key, and no key twice; returns the staged row count."""
    q = facts.quote_identifier
    null = " OR ".join(f"{q(k)} IS NULL" for k in keys)
    rows = db.query(f"SELECT COUNT(*), SUM(CASE WHEN {null} THEN 1 ELSE 0 END) FROM {stage_sql}")
    total, nulls = int(rows[0][0] or 0), int(rows[0][1] or 0)
    if nulls:
        raise TransferError(
            f"{nulls:,} source row(s) have a NULL in the key ({', '.join(keys)}); a merge "
            "matches rows by key, so every row needs one. Nothing was written.",
            hint="Filter them out with --where, or choose another --primary-key.")
    cols = ", ".join(q(k) for k in keys)
    dup = db.query(f"SELECT {cols}, COUNT(*) FROM {stage_sql} GROUP BY {cols} "
                   "HAVING COUNT(*) > 1", limit=1)
    if dup:
        sample = ", ".join(f"{k}={v!r}" for k, v in zip(keys, dup[0][:len(keys)], strict=True))
        raise TransferError(
            f"the source has the key ({', '.join(keys)}) more than once (e.g. {sample}: "
            f"{dup[0][-1]} rows); a merge takes one row per key. Nothing was written.",
            hint="Name a column whose highest value wins with --tie-breaker (e.g. "
                 "--tie-breaker updated_at), or fix the key.")
    return total


def read_mark(db: SqlSession, target_sql: str, column: str, facts: Database) -> Mark | None:
    """``MAX(column)`` of the target, exactly (None: no rows)."""
    rows = db.query(f"SELECT MAX({facts.quote_identifier(column)}) FROM {target_sql}")
    return mark_of(rows[0][0] if rows else None, column)


def high_water_mark(connection: Connection, request: WriteRequest,
                    open_session: Callable[[], SqlSession]) -> Mark | None:
    """The planner's read of the target's mark (None: no table yet, or no rows)."""
    table = check_request(connection, request)
    assert request.update_key is not None
    db = open_session()
    try:
        schema = table.schema or _default_schema(connection) or db.current_schema()
        target = TableRef(table.name, schema)
        if db.table_kind(schema, target.name) is None:
            return None
        existing = db.columns(schema, target.name)
        column = _target_column(existing, request.update_key, "--update-key", target)
        return read_mark(db, target.sql(connection.facts), column, connection.facts)
    finally:
        db.close()


def _target_column(existing: list[str], name: str, option: str, target: TableRef) -> str:
    folded = {c.lower(): c for c in existing}
    if name in existing:
        return name
    if name.lower() in folded:
        return folded[name.lower()]
    raise UsageError(f"{option} `{name}` is not a column of the target `{target}` "
                     f"(it has {', '.join(existing)}).")


def _check_mark_unmoved(db: SqlSession, request: WriteRequest, target_sql: str,
                        existing: list[str] | None, facts: Database, target: TableRef) -> None:
    """An incremental append read the rows past the mark it planned with; if another run moved
    the mark while this one waited, appending would load some rows twice."""
    assert request.update_key is not None
    now = None
    if existing is not None:
        column = _target_column(existing, request.update_key, "--update-key", target)
        now = read_mark(db, target_sql, column, facts)
    if now != request.high_water_mark:
        raise TransferError(
            f"`{target}` changed while this run waited for it: its high-water mark moved from "
            f"{request.high_water_mark or 'nothing'} to {now or 'nothing'} (another run loaded "
            "rows). Appending what this run read would load rows twice; nothing was written.",
            hint="Run it again: it will read from the new mark.")


def lock_key(target: TableRef) -> str:
    """The lock's name: the target, readable where it fits MySQL's 64 characters."""
    key = f"dvt:{target}"
    if len(key) > 64:
        key = "dvt:" + hashlib.sha1(str(target).encode("utf-8")).hexdigest()
    return key


def take_lock(db: SqlSession, dialect: Dialect, target: TableRef, timeout: float,
              console: Console | None, *, poll: float = 0.5) -> bool:
    """Take the target's lock, waiting at most ``timeout`` seconds (with one message); False
    when the dialect has no lock."""
    lock = dialect.lock
    if lock is None:
        return False
    sql = lock.try_acquire.format(key=Database.quote_literal(lock_key(target)))
    deadline = time.monotonic() + timeout
    told = False
    while True:
        rows = db.query(sql)
        if rows and _truthy(rows[0][0]):
            return True
        if time.monotonic() >= deadline:
            raise TransferError(
                f"another dvt run is writing `{target}` ({lock.how} "
                f"`{lock_key(target)}`); gave up after waiting {timeout:g} s. Nothing was "
                "written.",
                hint="Let the other run finish, or wait longer with --lock-timeout SECONDS.")
        if not told and console is not None:
            console.warn(f"another dvt run is writing `{target}`; waiting up to {timeout:g} s "
                         f"for it ({lock.how} `{lock_key(target)}`)")
            told = True
        time.sleep(min(poll, max(deadline - time.monotonic(), 0.0)))


def release_lock(db: SqlSession, dialect: Dialect, target: TableRef) -> None:
    """Give the lock back (closing the session would too; a failure here is not the write's)."""
    lock = dialect.lock
    if lock is None:
        return
    with contextlib.suppress(Exception):
        db.query(lock.release.format(key=Database.quote_literal(lock_key(target))))


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "t", "true")


def table_key(request: WriteRequest, dialect: Dialect) -> tuple[str, ...]:
    """The primary key an overwrite creates its table with: the source's (``source_key``), where
    the database wants one (``Dialect.keeps_source_key``). Other modes keep the target's table,
    or append to it later, where a key could refuse rows the source sends again."""
    if dialect.keeps_source_key and request.mode == "overwrite":
        return request.source_key
    return ()


# Spark types whose values compare equal in every database exactly when they did in the source.
# Strings do not (collations fold case, PAD SPACE ignores trailing spaces); floats and binaries
# are poor keys.
_EXACT_KEY_TYPES = ("ByteType", "ShortType", "IntegerType", "LongType", "DecimalType",
                    "DateType", "TimestampType", "TimestampNTZType")


def exact_key(key: Sequence[str], schema: StructType,
              lossy: Collection[str] = ()) -> tuple[str, ...]:
    """``key`` (the source's primary key) if every column of it is in ``schema`` with an
    exact-equality type and none is read ``lossy`` (rounding could map two keys to one value),
    else ()."""
    types = {f.name: type(f.dataType).__name__ for f in schema.fields}
    if key and all(types.get(k) in _EXACT_KEY_TYPES and k not in lossy for k in key):
        return tuple(key)
    return ()


def key_notes(connection: Connection, request: WriteRequest) -> list[str]:
    """The plan's line about the key a database target's table is created with, if any."""
    dialect = dialect_for(connection.facts)
    key = table_key(request, dialect)
    return [_key_note(key, dialect)] if key else []


def _key_note(key: tuple[str, ...], dialect: Dialect) -> str:
    return f"primary key ({', '.join(key)}) kept from the source: {dialect.keeps_source_key}"


def describe_write(connection: Connection, request: WriteRequest) -> list[str]:
    """How a database target carries out ``request``, for the plan."""
    dialect = dialect_for(connection.facts)
    lines: list[str] = []
    if request.merges:
        lines.append(f"merge by ({', '.join(request.primary_key)}): {dialect.merge.how}")
    if request.mode == "backfill" and request.range and request.update_key:
        low, high = parse_range(request.range)
        lines.append("backfill: DELETE FROM target WHERE "
                     + range_predicate(request.update_key, low, high, connection.facts)
                     + ", then INSERT ... SELECT from the staging table, in one transaction")
    if request.mode == "truncate":
        lines.append("truncate: the table is kept; its rows are replaced "
                     + ("in one transaction" if dialect.truncate_atomic else
                        f"NOT atomically ({dialect.title} has no transactions: the table is "
                        "empty until the new rows are in)"))
    if dialect.lock is not None:
        lines.append(f"concurrent runs into this table wait for its lock ({dialect.lock.how}, "
                     f"up to {request.lock_timeout:g} s)")
    else:
        lines.append(f"no lock: {dialect.title} has none we use; do not run two loads into "
                     "this table at once")
    return lines


def keep_latest(df: DataFrame, request: WriteRequest) -> DataFrame:
    """With ``--tie-breaker``: one row per key, the one with the highest tie-breaker value."""
    if not request.tie_breaker:
        return df
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    names = {c.lower(): c for c in df.columns}
    missing = [c for c in (*request.primary_key, request.tie_breaker) if c.lower() not in names]
    if missing:
        raise UsageError("--primary-key/--tie-breaker name column(s) the data does not have: "
                         + ", ".join(f"`{m}`" for m in missing) + f" (columns: "
                         f"{', '.join(df.columns)}).")

    def col(name: str) -> Any:
        return F.col("`" + names[name.lower()].replace("`", "``") + "`")

    rank = "__dvt_rank"
    window = Window.partitionBy(*[col(k) for k in request.primary_key]).orderBy(
        col(request.tie_breaker).desc_nulls_last())
    return df.withColumn(rank, F.row_number().over(window)).where(F.col(rank) == 1).drop(rank)


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
        db.transaction([*dialect.exclusive_lock_prelude, *loads, *statements])
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


def _exclusive(db: SqlSession, prelude: tuple[str, ...], sql: str) -> None:
    """``sql``, which takes a table's exclusive lock: in one transaction after ``prelude`` (the
    dialect's ``exclusive_lock_prelude``) when there is one, else as it is."""
    if prelude:
        db.transaction([*prelude, sql])
    else:
        db.execute(sql)


def _drop_quietly(db: SqlSession, open_session: Callable[[], SqlSession], sql: str,
                  table_sql: str, warnings: Warnings, prelude: tuple[str, ...] = ()) -> None:
    """Drop the staging table (after ``prelude``, :func:`_exclusive`); on a broken connection,
    once more on a fresh one."""
    try:
        _exclusive(db, prelude, sql)
        return
    except Exception:  # noqa: BLE001 - cleanup must not hide the error that brought us here
        pass
    try:
        fresh = open_session()
        try:
            _exclusive(fresh, prelude, sql)
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
