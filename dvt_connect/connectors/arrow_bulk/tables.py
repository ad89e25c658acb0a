"""The atomic write of the core (staging table, then one swap), driven over a Python DB-API
connection instead of a JDBC one.

The table plan, DDL, staging names and swap statements are the JDBC writer's own
(:mod:`dvt_connect.connectors.jdbc.ddl`), so a native write creates exactly the table a JDBC write
creates. ``fill`` loads the rows into the staging table (the Spark action); a failure anywhere
before the swap commits leaves the target as it was and drops the staging table.
"""

from __future__ import annotations

import secrets as token_source
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import TableRef, WriteOutcome, WriteRequest
from dvt_connect.connectors.jdbc.ddl import (
    OLD_MARK,
    STAGE_MARK,
    TablePlan,
    create_table_sql,
    dialect_for,
    drop_table_sql,
    insert_select_sql,
    plan_columns,
    side_table_name,
    swap_statements,
)
from dvt_connect.connectors.jdbc.writer import match_columns
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


def staged_write(
    connection: Connection,
    df: DataFrame,
    request: WriteRequest,
    *,
    open_session: Callable[[], SqlSession],
    fill: Callable[[Stage], None],
    console: Console | None = None,
    how: str = "",
) -> WriteOutcome:
    """Create the staging table, ``fill`` it, then swap it in (overwrite) or insert from it in
    one transaction (append); the staging table never outlives the call."""
    if request.table is None:
        raise UsageError(f"writing to database output `{connection.name}` needs --target-table "
                         "(`table` or `schema.table`).")
    if request.partition_by:
        raise UsageError("--partition-by applies to files targets, not to database output "
                         f"`{connection.name}`.")
    facts = connection.facts
    dialect = dialect_for(facts)
    plan = plan_columns(df.schema, dialect)
    warnings = list(plan.warnings)
    for warning in warnings:
        if console is not None:
            console.warn(warning)

    db = open_session()
    try:
        schema = request.table.schema or _default_schema(connection) or db.current_schema()
        target = TableRef(request.table.name, schema)
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
            fill(Stage(schema, stage, plan.names))
            if request.mode == "append" and existing is not None:
                db.transaction([insert_select_sql(target_sql, stage_sql, append_columns,
                                                  plan.names, facts)])
                notes = [f"appended to `{target}` through staging table `{stage}` in one "
                         "transaction"]
            else:
                swap = dialect.swap
                statements = fill_in(swap.replace if existing is not None else swap.create)
                if swap.transactional:
                    db.transaction(statements)
                else:
                    for sql in statements:
                        db.execute(sql)
                stage_exists = False
                notes = _swap_notes(target, stage, dialect.swap.how, existing, plan)
                for sql in fill_in(swap.after) if existing is not None else []:
                    try:
                        db.execute(sql)
                    except Exception as exc:  # the new target is in place; report the leftover
                        warnings.append(f"the previous table, renamed to `{old}`, could not be "
                                        f"dropped ({_first_line(exc)}); drop it by hand")
        finally:
            if stage_exists:
                _drop_quietly(db, open_session, drop_table_sql(stage_sql, dialect), stage_sql,
                              warnings, console)
    finally:
        db.close()
    if how:
        notes.insert(0, how)
    notes.append(RETRY_SAFE_NOTE)
    return WriteOutcome(bytes_written=None, location=f"{target} ({connection.location()})",
                        notes=tuple(notes + [f"warning: {w}" for w in warnings]))


def _default_schema(connection: Connection) -> str | None:
    # MySQL/MariaDB: `schema:` is an alias of the database; PostgreSQL: the output's schema
    if connection.facts.schema_is_catalog:
        return connection.database
    return connection.schema


def _swap_notes(target: TableRef, stage: str, how: str, existing: list[str] | None,
                plan: TablePlan) -> list[str]:
    if existing is None:
        return [f"created `{target}` with {len(plan.columns)} column(s), from staging table "
                f"`{stage}`"]
    notes = [f"replaced `{target}`: staging table `{stage}` {how}; the previous table's "
             "indexes, constraints and grants are not kept"]
    if list(existing) != list(plan.names):
        notes.append(f"the previous `{target}` had different columns ({', '.join(existing)}); "
                     f"it was replaced by ({', '.join(plan.names)})")
    return notes


def _drop_quietly(db: SqlSession, open_session: Callable[[], SqlSession], sql: str,
                  table_sql: str, warnings: list[str], console: Console | None) -> None:
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
        message = f"staging table {table_sql} could not be dropped ({_first_line(exc)}); " \
                  "drop it by hand"
        warnings.append(message)
        if console is not None:
            console.warn(message)


def _first_line(exc: BaseException) -> str:
    return redact((str(exc).strip().splitlines() or [type(exc).__name__])[0][:300])


def rows_of(session: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a small query on a DB-API connection."""
    with session.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())
