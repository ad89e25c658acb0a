"""Writing a DataFrame into a JDBC target: our DDL, a staging table, one swap.

Both modes go through a staging table ``<target>__dvt_stage_<random>`` created with our DDL
(:mod:`.ddl`) in the target's schema. Spark's JDBC writer only ever *appends* into it, so Spark
never creates, truncates or drops anything. Then, in one transaction (or the dialect's atomic
rename):

- ``overwrite``: the staging table replaces the target (PostgreSQL: ``DROP`` + ``ALTER TABLE
  RENAME`` in one transaction; MySQL/MariaDB: one multi-table ``RENAME TABLE``);
- ``append``: ``INSERT INTO target SELECT ... FROM stage``, committed at once, then the staging
  table is dropped. An absent target is created from the staging table (a rename).

A failure at any point before that commit leaves the target exactly as it was, and the staging
table is dropped on the way out. So both modes are all-or-nothing, and re-running a failed write
cannot duplicate rows (:func:`is_retry_safe`).

Database errors propagate unchanged (the JDBC connector's ``is_transient``/``describe_error``
read them); our own checks raise :class:`~dvt_connect.errors.DvtError` subclasses before anything
is created.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

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
from dvt_connect.connectors.jdbc.session import (
    JdbcSession,
    TableInfo,
    jvm_time_zone,
    spark_jdbc_url_and_props,
)
from dvt_connect.errors import TransferError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from dvt_connect.console import Console

ISOLATION_LEVEL = "READ_COMMITTED"
RETRY_SAFE_NOTE = "retry-safe: a failed write leaves the target unchanged"


def is_retry_safe(request: WriteRequest) -> bool:
    """Whether re-running a failed :func:`write_jdbc` can duplicate or lose rows: never, in
    either mode, since nothing reaches the target before the one final commit. (The one
    exception is a connection lost *during* that commit, which no client can tell apart.)"""
    return request.mode in ("overwrite", "append")


def write_jdbc(
    spark: SparkSession,
    connection: Connection,
    df: DataFrame,
    request: WriteRequest,
    *,
    console: Console | None = None,
) -> WriteOutcome:
    """Write ``df`` into ``request.table`` on ``connection`` (see the module doc)."""
    if request.table is None:
        raise UsageError(
            f"writing to database output `{connection.name}` needs --target-table "
            "(`table` or `schema.table`)."
        )
    if request.partition_by:
        raise UsageError("--partition-by applies to files targets, not to database output "
                         f"`{connection.name}`.")
    facts = connection.facts
    dialect = dialect_for(facts)
    plan = plan_columns(df.schema, dialect)
    warnings = _Warnings(console)
    for warning in plan.warnings + _time_zone_warnings(spark, df):
        warnings.add(warning)
    url, props = spark_jdbc_url_and_props(connection)
    batch_size = request.batch_size or connection.batch_size

    with JdbcSession(spark, connection) as db:
        schema = (request.table.schema or connection.schema
                  or db.current_schema(schema_is_catalog=facts.schema_is_catalog))
        target = TableRef(request.table.name, schema)
        existing = db.find_table(schema, target.name, schema_is_catalog=facts.schema_is_catalog)
        if existing is not None and existing.is_view:
            raise TransferError(
                f"`{target}` on output `{connection.name}` is a view, not a table; dvt writes "
                "tables only.",
                hint="Choose another --target-table.",
            )
        target_sql = target.sql(facts)
        existing_columns = db.columns(target_sql) if existing is not None else None
        append_columns: tuple[str, ...] = ()
        if request.mode == "append" and existing_columns is not None:
            append_columns = match_columns(plan, existing_columns, target, connection)

        token = secrets.token_hex(4)
        stage = side_table_name(target.name, STAGE_MARK, token, dialect)
        old = side_table_name(target.name, OLD_MARK, token, dialect)
        stage_sql = facts.quote_qualified(schema, stage)

        def fill(statements: tuple[str, ...]) -> list[str]:
            return swap_statements(statements, facts=facts, schema=schema, target=target.name,
                                   stage=stage, old=old)

        db.execute(create_table_sql(stage_sql, plan, facts, dialect))
        stage_exists = True
        try:
            _spark_append(_bind_times(spark, df, dialect), url, props, stage_sql, batch_size)
            if request.mode == "append" and existing is not None:
                db.transaction([insert_select_sql(target_sql, stage_sql, append_columns,
                                                  plan.names, facts)])
                notes = [f"appended to `{target}` through staging table `{stage}` in one "
                         "transaction"]
            else:
                _swap(db, dialect, fill, replace=existing is not None)
                stage_exists = False
                notes = _swap_notes(target, stage, dialect, existing, existing_columns, plan)
                if existing is not None:
                    _after(db, dialect, fill, old, warnings)
        finally:
            if stage_exists:
                _drop_quietly(spark, connection, db,
                              drop_table_sql(stage_sql, dialect, if_exists=True),
                              stage_sql, warnings)

    notes.append(RETRY_SAFE_NOTE)
    return WriteOutcome(
        bytes_written=None,
        location=f"{target} ({connection.location()})",
        notes=tuple(notes + [f"warning: {w}" for w in warnings.messages]),
    )


class _Warnings:
    """Warnings go to the console as they happen (a failing write still shows its cleanup
    problems) and into the outcome's notes."""

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)
        if self.console is not None:
            self.console.warn(message)


def _spark_append(df: DataFrame, url: str, props: dict[str, str], table_sql: str,
                  batch_size: int | None) -> None:
    """The one action: Spark inserts every row into the (existing) staging table."""
    writer = (df.write.format("jdbc").mode("append")
              .option("url", url).option("dbtable", table_sql)
              .option("isolationLevel", ISOLATION_LEVEL))
    for key, value in props.items():
        writer = writer.option(key, value)
    if batch_size:
        writer = writer.option("batchsize", str(batch_size))
    writer.save()


def _bind_times(spark: SparkSession, df: DataFrame, dialect: Dialect) -> DataFrame:
    """Timestamps as Spark must hand them to the driver for the target to store them exactly.

    Spark binds every timestamp as a ``java.sql.Timestamp``, which the driver renders in the
    JVM's time zone. Instants are rebased to the JVM's hybrid Julian/Gregorian calendar;
    timestamp_ntz values are not (``Timestamp.valueOf``), so MariaDB and Derby would store
    0500-01-01 as 0499-12-31 and PostgreSQL 1582-10-04 later. So:

    - a timestamp_ntz becomes the instant whose wall time in the JVM's zone it is (rebased;
      rendered back as the same wall time);
    - where the target keeps instants as their UTC wall time (``instants_as_utc_wall``), an
      instant becomes the instant whose wall time in the JVM's zone is its UTC wall time (a
      no-op when the JVM runs in UTC, as it should).

    Only wall times inside the JVM zone's daylight-saving gaps cannot be rendered; the writer
    warns when the JVM is not in UTC.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType, TimestampType

    wall = {f.name for f in df.schema.fields if isinstance(f.dataType, TimestampNTZType)}
    instants = {f.name for f in df.schema.fields if isinstance(f.dataType, TimestampType)}
    zone, jvm_is_utc = jvm_time_zone(spark)
    if jvm_is_utc:
        zone = "UTC"
        instants = set()
    elif not dialect.instants_as_utc_wall:
        instants = set()
    if not wall and not instants:
        return df

    def col(name: str) -> Column:
        return F.col("`" + name.replace("`", "``") + "`")

    def cast(frame: DataFrame, names: set[str], to: str) -> DataFrame:
        return frame.select(*[col(n).cast(to).alias(n) if n in names else col(n)
                              for n in frame.columns])

    if instants:  # to their UTC wall time first (as timestamp_ntz), then like any wall time
        utc_walls = _analysed_in(spark, "UTC", lambda: cast(df, instants, "timestamp_ntz"))
    else:
        utc_walls = df
    return _analysed_in(spark, zone, lambda: cast(utc_walls, wall | instants, "timestamp"))


def _analysed_in(spark: SparkSession, zone: str, build: Callable[[], DataFrame]) -> DataFrame:
    """``build()`` analysed with the session time zone set to ``zone``: time-zone-aware casts
    keep that zone whatever the session's setting is later."""
    key = "spark.sql.session.timeZone"
    previous = spark.conf.get(key) or "UTC"
    if previous == zone:
        return build()
    spark.conf.set(key, zone)
    try:
        built = build()
        built.schema  # analysed now  # noqa: B018
    finally:
        spark.conf.set(key, previous)
    return built


def _swap(db: JdbcSession, dialect: Dialect, fill: _Fill, *, replace: bool) -> None:
    swap = dialect.swap
    statements = fill(swap.replace if replace else swap.create)
    if swap.transactional:
        db.transaction(statements)
        return
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


def _after(db: JdbcSession, dialect: Dialect, fill: _Fill, old: str,
           warnings: _Warnings) -> None:
    """Statements after a committed swap (dropping the old table). Failing here cannot hurt the
    new target, so it is a warning naming what was left behind."""
    for sql in fill(dialect.swap.after):
        try:
            db.execute(sql)
        except Exception as exc:
            warnings.add(f"the previous table, renamed to `{old}`, could not be dropped "
                         f"({_first_line(exc)}); drop it by hand")


def _swap_notes(target: TableRef, stage: str, dialect: Dialect, existing: TableInfo | None,
                existing_columns: list[str] | None, plan: TablePlan) -> list[str]:
    if existing is None:
        return [f"created `{target}` with {len(plan.columns)} column(s) (our {dialect.title} "
                f"DDL), from staging table `{stage}`"]
    notes = [f"replaced `{target}`: staging table `{stage}` {dialect.swap.how}; the previous "
             "table's indexes, constraints and grants are not kept"]
    if existing_columns is not None and list(existing_columns) != list(plan.names):
        notes.append(
            f"the previous `{target}` had different columns "
            f"({', '.join(existing_columns)}); it was replaced by ({', '.join(plan.names)})"
        )
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


def _time_zone_warnings(spark: SparkSession, df: DataFrame) -> tuple[str, ...]:
    from pyspark.sql.types import TimestampNTZType, TimestampType

    if not any(isinstance(f.dataType, (TimestampType, TimestampNTZType))
               for f in df.schema.fields):
        return ()
    zone, is_utc = jvm_time_zone(spark)
    if is_utc:
        return ()
    return (f"the JVM runs in time zone {zone}, not UTC: JDBC drivers convert timestamps "
            "through it, so wall times in its daylight-saving gaps shift; start Java with "
            "-Duser.timezone=UTC",)


def _drop_quietly(spark: SparkSession, connection: Connection, db: JdbcSession, sql: str,
                  table_sql: str, warnings: _Warnings) -> None:
    """Drop the staging table; on a broken connection, once more on a fresh one."""
    try:
        db.execute(sql)
        return
    except Exception:  # cleanup must not hide the error that brought us here
        pass
    try:
        with JdbcSession(spark, connection) as fresh:
            fresh.execute(sql)
    except Exception as exc:
        warnings.add(f"staging table {table_sql} could not be dropped "
                     f"({_first_line(exc)}); drop it by hand")


def _first_line(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)
    text = str(java.getMessage()) if java is not None else str(exc)
    return (text.strip().splitlines() or [""])[0]


_Fill = Callable[[tuple[str, ...]], list[str]]
