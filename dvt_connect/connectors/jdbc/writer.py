"""Writing a DataFrame into a JDBC target: the staged write of
:mod:`dvt_connect.connectors.staging`, filled by Spark's JDBC append.

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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import WRITE_MODES, WriteOutcome, WriteRequest
from dvt_connect.connectors.jdbc.ddl import Dialect, dialect_for
from dvt_connect.connectors.jdbc.session import (
    JdbcSession,
    jvm_time_zone,
    spark_jdbc_url_and_props,
)
from dvt_connect.connectors.staging import (
    RETRY_SAFE_NOTE,
    Stage,
    check_request,
    guard_values,
    match_columns,
    staged_write,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from dvt_connect.console import Console

__all__ = ["RETRY_SAFE_NOTE", "JdbcStagingSession", "is_retry_safe", "match_columns",
           "write_jdbc"]

ISOLATION_LEVEL = "READ_COMMITTED"


def is_retry_safe(request: WriteRequest) -> bool:
    """Whether re-running a failed :func:`write_jdbc` can duplicate or lose rows: never, in
    any mode, since nothing reaches the target before the one final commit. (The one
    exception is a connection lost *during* that commit, which no client can tell apart.)"""
    return request.mode in WRITE_MODES


def write_jdbc(
    spark: SparkSession,
    connection: Connection,
    df: DataFrame,
    request: WriteRequest,
    *,
    console: Console | None = None,
) -> WriteOutcome:
    """Write ``df`` into ``request.table`` on ``connection`` (see the module doc): the staged
    write, filled by Spark's JDBC append."""
    check_request(connection, request)
    dialect = dialect_for(connection.facts)
    url, props = spark_jdbc_url_and_props(connection)
    if request.column_types:  # text into the source's own types: the server parses it
        props.update(connection.facts.types.text_write_properties)
    batch_size = request.batch_size or connection.batch_size
    guarded = guard_values(df, dialect)

    def fill(stage: Stage) -> None:
        _spark_append(_bind_times(spark, guarded, dialect), url, props, stage.sql, batch_size)

    return staged_write(connection, df, request,
                        open_session=lambda: JdbcStagingSession(spark, connection),
                        fill=fill, console=console, warnings=_time_zone_warnings(spark, df))


class JdbcStagingSession:
    """A :class:`~dvt_connect.connectors.staging.SqlSession` over one JDBC connection."""

    def __init__(self, spark: SparkSession, connection: Connection) -> None:
        self.facts = connection.facts
        self.db = JdbcSession(spark, connection)
        self.db.open()

    def execute(self, sql: str) -> None:
        self.db.execute(sql)

    def transaction(self, statements: list[str]) -> None:
        self.db.transaction(statements)

    def current_schema(self) -> str | None:
        return self.db.current_schema(schema_is_catalog=self.facts.schema_is_catalog)

    def table_kind(self, schema: str | None, name: str) -> str | None:
        found = self.db.find_table(schema, name, schema_is_catalog=self.facts.schema_is_catalog)
        if found is None:
            return None
        return "view" if found.is_view else "table"

    def columns(self, schema: str | None, name: str) -> list[str]:
        return self.db.columns(self.facts.quote_qualified(schema, name))

    def query(self, sql: str, limit: int | None = None) -> list[tuple[Any, ...]]:
        return self.db.typed_query(sql, limit)

    def unique_keys(self, schema: str | None, name: str) -> list[tuple[str, ...]]:
        return self.db.unique_keys(schema, name, schema_is_catalog=self.facts.schema_is_catalog)

    def close(self) -> None:
        self.db.close()


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
        utc_walls = analysed_in(spark, "UTC", lambda: cast(df, instants, "timestamp_ntz"))
    else:
        utc_walls = df
    return analysed_in(spark, zone, lambda: cast(utc_walls, wall | instants, "timestamp"))


def analysed_in(spark: SparkSession, zone: str, build: Callable[[], DataFrame]) -> DataFrame:
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
