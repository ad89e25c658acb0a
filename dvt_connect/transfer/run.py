"""A transfer, start to end: plan the read, then run the one action that moves the data.

The source is read once: rows and payload bytes are observed on the DataFrame the write
consumes (``DataFrame.observe``), so no ``count()`` runs against the source (NOTES #1). The
action is retried as a whole when the failure is transient (NOTES #2); the target's own staging
makes a re-run safe and a failure harmless (NOTES #5).
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dvt_connect.adapters import NativeFacts
from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import BaseConnector, ReadPlan, ReadRequest, WriteRequest
from dvt_connect.connectors.staging import exact_key, keep_latest, key_notes
from dvt_connect.connectors.typeplan import ColumnPlan, plan_types, read_overrides
from dvt_connect.errors import DvtError, TransferError, UsageError
from dvt_connect.incremental import (
    Mark,
    and_where,
    parse_range,
    range_predicate,
    read_predicate,
    start_of_window,
)
from dvt_connect.secrets import redact
from dvt_connect.transfer.causes import first_meaningful_line, os_cause, texts_of, worker_exception
from dvt_connect.transfer.progress import track
from dvt_connect.transfer.stats import TransferStats

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession
    from pyspark.sql.types import StructType

    from dvt_connect.console import Console
    from dvt_connect.retry import RetryConfig

_FIXED_WIDTHS = {
    "BooleanType": 1, "ByteType": 1, "ShortType": 2, "IntegerType": 4, "LongType": 8,
    "FloatType": 4, "DoubleType": 8, "DateType": 4, "TimestampType": 8,
    "TimestampNTZType": 8,
}


@dataclass(frozen=True)
class IncrementalPlan:
    """What an incremental run found before reading: the target's mark, where the read starts
    (the mark, or earlier by the lookback), the predicate added to the source read, and the
    source rows whose update key is NULL (never read by incremental runs)."""

    update_key: str
    high_water_mark: Mark | None
    read_from: Mark | None
    predicate: str | None
    null_update_keys: int | None

    def describe(self) -> dict[str, Any]:
        return {
            "update_key": self.update_key,
            "high_water_mark": None if self.high_water_mark is None else str(self.high_water_mark),
            "read_from": None if self.read_from is None else str(self.read_from),
            "predicate": self.predicate,
            "null_update_keys": self.null_update_keys,
        }


ROUTES = ("auto", "arrow", "rows")
ARROW_WHY = ("Arrow end to end: each Spark task reads its partition as Arrow batches and "
             "writes them straight into the target's staging (no Spark rows)")


@dataclass(frozen=True)
class Route:
    """Whether the rows cross as Arrow end to end, and why (or why not)."""

    arrow: bool
    why: str
    # what each Arrow task reads, when the source's tasks are not the read plan's partitions
    # (a files source: whole files or runs of row groups)
    tasks: tuple[str, ...] = ()


TIE_BREAKER_WHY = "--tie-breaker keeps the latest row per key in Spark"


def target_rows_problem(target_type: type[BaseConnector], target: Connection,
                        write: WriteRequest, master_kind: str) -> str | None:
    """Why the write side of the move needs Spark rows, from the output, the request and the
    master's kind alone (no session)."""
    if write.tie_breaker:
        return TIE_BREAKER_WHY
    return target_type.arrow_write_problem(target, write, master_kind)


def arrow_problem(source_type: type[BaseConnector], source: Connection, read: ReadRequest,
                  target_type: type[BaseConnector], target: Connection, write: WriteRequest,
                  master_kind: str) -> str | None:
    """Why the move cannot go Arrow end to end, from what is known before a session starts:
    the two connector classes, outputs and requests, and the master's kind
    (:func:`dvt_connect.spark.master_kind`). :func:`choose_route` asks it first, and the
    driver's JIT is chosen from it before the JVM starts (``transfer.job.arrow_expected``),
    so the two cannot drift apart."""
    return (source_type.arrow_read_problem(source, read, master_kind)
            or target_rows_problem(target_type, target, write, master_kind))


def choose_route(source_connector: BaseConnector, read: ReadRequest, read_plan: ReadPlan,
                 target_connector: BaseConnector, write: WriteRequest,
                 schema: StructType, wanted: str = "auto", *, master_kind: str) -> Route:
    """Arrow end to end when the source's tasks can read Arrow and the target's tasks can write
    it (measured faster in every case both can: docs/architecture.md); otherwise Spark rows,
    saying which side needs them. ``wanted`` is ``--route``; ``master_kind`` the session's
    (:func:`dvt_connect.spark.session_master_kind`)."""
    if wanted not in ROUTES:
        raise UsageError(f"unknown route `{wanted}`; valid: {', '.join(ROUTES)}.")
    if wanted == "rows":
        return Route(False, "Spark rows: requested with --route rows")
    why = arrow_problem(type(source_connector), source_connector.connection, read,
                        type(target_connector), target_connector.connection, write, master_kind)
    if why is None:  # then what only the session knows
        source = source_connector.arrow_source(read_plan)
        why = source if isinstance(source, str) else target_connector.arrow_sink_problem(
            write, schema)
    if why is None:
        return Route(True, ARROW_WHY)
    if wanted == "arrow":
        raise UsageError(f"--route arrow cannot be used here: {why}.",
                         hint="Use --route auto (or rows).")
    return Route(False, f"Spark rows: {why}")


@dataclass(frozen=True)
class TransferPlan:
    """Everything decided before data moves; ``--dry-run`` prints this and stops."""

    source: Connection
    target: Connection
    read: ReadPlan
    write: WriteRequest
    jars: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    columns: ColumnPlan = field(default_factory=ColumnPlan)
    incremental: IncrementalPlan | None = None
    write_notes: tuple[str, ...] = ()
    # the session it runs on, as it may be shown (SessionSpec.describe: secrets masked)
    spark: Mapping[str, Any] = field(default_factory=dict)
    route: Route = field(default_factory=lambda: Route(False, ""))
    schema: StructType | None = None  # the read's Spark schema (what an Arrow move writes)
    # seconds per planning step (connectors chosen, read planned, types planned, route)
    timings: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "spark": dict(self.spark),
            "route": {"arrow_end_to_end": self.route.arrow, "why": self.route.why,
                      "tasks": list(self.route.tasks)},
            "source": {"output": self.source.name, "type": self.source.type,
                       "location": self.source.location()},
            "target": {"output": self.target.name, "type": self.target.type,
                       "location": self.target.location(),
                       "table": str(self.write.table) if self.write.table else None,
                       "mode": self.write.mode,
                       "primary_key": list(self.write.primary_key),
                       "tie_breaker": self.write.tie_breaker,
                       "partition_by": list(self.write.partition_by),
                       "notes": list(self.write_notes)},
            "incremental": None if self.incremental is None else self.incremental.describe(),
            "read": self.read.describe(),
            "columns": self.columns.describe(),
            "jars": list(self.jars),
            "warnings": list(self.warnings),
        }


def plan_transfer(
    spark: SparkSession,
    source: Connection,
    target: Connection,
    read: ReadRequest,
    write: WriteRequest,
    *,
    buckets: Mapping[str, Bucket] | None = None,
    connector: str = "auto",
    preferred_bucket: str | None = None,
    console: Console | None = None,
    jars: tuple[str, ...] = (),
    native_unavailable: Callable[[NativeFacts], str | None] | None = None,
    allow_lossy: Sequence[str] = (),
    route: str = "auto",
) -> tuple[TransferPlan, BaseConnector, BaseConnector]:
    """Choose connectors, plan the read (catalog statistics only; no data is read) and the
    column types (exact or lossy, before anything is created)."""
    from dvt_connect.connectors.factory import ConnectorFactory
    from dvt_connect.spark import session_master_kind

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - clock, 3)
        clock = now

    factory = ConnectorFactory(spark, buckets or {}, console=console,
                               native_unavailable=native_unavailable)
    # --connector jdbc means JDBC both ways; --connector native is about the source's bulk export
    target_connector = factory.for_target(target, mode="jdbc" if connector == "jdbc" else "auto")
    master_kind = session_master_kind(spark)
    rows_target = ("requested with --route rows" if route == "rows"
                   else target_rows_problem(type(target_connector), target, write, master_kind)
                   or target_connector.arrow_sink_problem(write, None))
    source_connector = factory.for_source(source, read, mode=connector,
                                          preferred_bucket=preferred_bucket,
                                          rows_target=rows_target)
    _refuse_on_connect(spark, ((source, source_connector), (target, target_connector)))
    choice = source_connector.choice
    reason = choice.reason if choice is not None else ""
    write_notes = tuple(target_connector.describe_write(write))
    lap("connectors")
    incremental = None
    if write.mode == "incremental":
        read, write, incremental = plan_incremental(source, read, write, source_connector,
                                                    target_connector)
        if incremental.null_update_keys and console is not None:
            console.warn(f"{incremental.null_update_keys:,} source row(s) have a NULL "
                         f"`{write.update_key}`: incremental runs never read them (only a "
                         "first, full run does)")
    if write.mode == "backfill":
        read = plan_backfill(source, read, write)
    read_plan = source_connector.plan_read(read, reason=reason)
    lap("read_plan")
    target_facts = target.facts if target_connector.writes_our_ddl else None
    sources = source_connector.source_types(read_plan)
    source_facts = source_connector.type_facts()
    read_as = read_overrides(source_facts, sources, target_facts, allow_lossy)
    if read_as:  # the read asks Spark for other types: plan it again with them
        read_plan = source_connector.plan_read(replace(read, read_as=read_as), reason=reason)
    schema = source_connector.read_schema(read_plan)
    columns = plan_types(source_facts if sources else None, sources, schema, target_facts,
                         target_format=target.format if target.is_files else target.type,
                         read_as=read_as, allow_lossy=allow_lossy)
    key = exact_key(read_plan.primary_key, schema,
                    lossy={c.name for c in columns.columns if not c.exact})
    write = replace(write, column_types=columns.declared, source_key=key)
    if key and target_connector.writes_our_ddl:
        write_notes = (*key_notes(target, write), *write_notes)
    lap("types")
    chosen = choose_route(source_connector, read, read_plan, target_connector, write, schema,
                          route, master_kind=master_kind)
    if chosen.arrow:
        arrow_source = source_connector.arrow_source(read_plan)
        note = target_connector.arrow_write_note(arrow_source, schema)
        write_notes += (note,) if note else ()
        if callable(getattr(arrow_source, "describe", None)):
            chosen = replace(chosen, tasks=arrow_source.describe())
    lap("route")
    warnings = tuple(choice.warnings) if choice is not None else ()
    plan = TransferPlan(source=source, target=target, read=read_plan, write=write, jars=jars,
                        warnings=warnings, columns=columns, incremental=incremental,
                        write_notes=write_notes, route=chosen, schema=schema, timings=timings)
    return plan, source_connector, target_connector


def _refuse_on_connect(spark: SparkSession,
                       sides: Sequence[tuple[Connection, BaseConnector]]) -> None:
    """On Spark Connect, a connector that cannot run there is one error naming the output and
    why, before anything is read or written. Attached to the local server, the same connectors
    are refused for another reason: the server's context is every command's, so dvt sets no
    bucket credentials or SQL extensions on it."""
    from dvt_connect.connect_server import LOCAL_SERVER
    from dvt_connect.spark import is_connect, shares_server

    if not shares_server(spark):
        return
    for connection, chosen in sides:
        problem = chosen.connect_problem()
        if problem is not None and not is_connect(spark):
            raise UsageError(
                f"output `{connection.name}` ({connection.type}) cannot be used on the warm "
                f"local server (--master {LOCAL_SERVER}): it needs bucket credentials, SQL "
                "extensions or a Spark package's driver-side setup, which dvt never sets on the "
                "server's context (every command shares it). Nothing was read or written.",
                hint="Run this transfer on a local master (--master local[N]), which starts "
                     "its own Spark.")
        if problem is not None:
            raise UsageError(
                f"output `{connection.name}` ({connection.type}) cannot be used on Spark "
                f"Connect: {problem}. Nothing was read or written.",
                hint="Run this transfer on a local or classic master (--master local[N] or "
                     "spark://host:port); README \"Running on a cluster\" lists what Spark "
                     "Connect runs.")


def _connect_notes(spark: SparkSession) -> tuple[str, ...]:
    from dvt_connect.spark import is_connect
    from dvt_connect.transfer.progress import COARSE

    return (COARSE,) if is_connect(spark) else ()


def plan_backfill(source: Connection, read: ReadRequest, write: WriteRequest) -> ReadRequest:
    """Read only the rows of ``--range`` (the target's rows of the range are replaced)."""
    assert write.update_key is not None and write.range is not None
    if read.table is None:
        raise UsageError("--mode backfill reads a --table (the range predicate is added to its "
                         "WHERE).")
    low, high = parse_range(write.range)
    return replace(read, where=and_where(read.where, range_predicate(
        write.update_key, low, high, source.facts, spark_sql=source.is_files)))


def plan_incremental(source: Connection, read: ReadRequest, write: WriteRequest,
                     source_connector: BaseConnector, target_connector: BaseConnector,
                     ) -> tuple[ReadRequest, WriteRequest, IncrementalPlan]:
    """Read the target's mark and add ``update_key > mark`` to the source read (the first run,
    into an absent or empty target, reads everything)."""
    assert write.update_key is not None
    if read.table is None:
        raise UsageError("--mode incremental reads a --table (the update-key predicate is added "
                         "to its WHERE); put a --query's filter in --where on a table or view.")
    mark = target_connector.high_water_mark(write)
    since = start_of_window(mark, write.lookback) if mark is not None else None
    predicate = None
    if since is not None:
        predicate = read_predicate(write.update_key, since, source.facts,
                                   inclusive=bool(write.lookback), spark_sql=source.is_files)
    nulls = source_connector.count_nulls(read, write.update_key)
    read = replace(read, where=and_where(read.where, predicate))
    write = replace(write, high_water_mark=mark, planned=True)
    return read, write, IncrementalPlan(write.update_key or "", mark, since, predicate, nulls)


def execute_transfer(
    spark: SparkSession,
    plan: TransferPlan,
    source_connector: BaseConnector,
    target_connector: BaseConnector,
    *,
    retry: RetryConfig | None = None,
    console: Console | None = None,
    planning_seconds: float = 0.0,
) -> TransferStats:
    """Run the action that moves the data, retrying it whole when the failure is transient."""
    from pyspark.sql import Observation

    from dvt_connect.retry import RetryConfig, RetryHandler
    from dvt_connect.spark import is_connect

    plan.columns.check(plan.target.name)  # lossy columns are refused before anything moves
    handler = RetryHandler(retry or RetryConfig())
    observations: list[Any] = []
    split: list[int] = []  # the read's partitions as Spark planned them (split_by_spark)

    def attempt() -> Any:
        if plan.route.arrow:
            assert plan.schema is not None
            with track(spark, console, f"{plan.source.name} -> {plan.target.name}",
                       job_group=f"dvt-{uuid.uuid4().hex[:8]}"):
                return target_connector.write_arrow(source_connector.arrow_source(plan.read),
                                                    plan.schema, plan.write)
        df = source_connector.load(plan.read)
        if plan.read.split_by_spark and not is_connect(spark):
            split.append(df.rdd.getNumPartitions())  # planned with no job; Connect has no RDD
        observation = Observation(f"dvt_{uuid.uuid4().hex[:8]}")
        observations.append(observation)
        observed = keep_latest(df.observe(observation, *_measures(df.schema)), plan.write)
        with track(spark, console, f"{plan.source.name} -> {plan.target.name}",
                   job_group=f"dvt-{uuid.uuid4().hex[:8]}"):
            return target_connector.write_dataframe(observed, plan.write)

    def is_transient(exc: BaseException) -> bool:
        return source_connector.is_transient(exc) or target_connector.is_transient(exc)

    def on_retry(attempt_number: int, exc: BaseException, delay: float) -> None:
        if console is not None:
            console.warn(
                f"transient error, retrying in {delay:.1f}s (attempt {attempt_number + 1}): "
                f"{_describe(exc, source_connector, target_connector)}"
            )

    started = time.perf_counter()
    try:
        outcome, retries = handler.run(attempt, is_transient, on_retry=on_retry)
    except DvtError:
        raise
    except Exception as exc:
        raise TransferError(
            f"transfer from `{plan.source.name}` to `{plan.target.name}` failed: "
            + _describe(exc, source_connector, target_connector),
            hint="The target was left as it was. Run with --debug for the full error.",
        ) from exc
    finally:
        source_connector.cleanup()
    moving = time.perf_counter() - started

    if plan.route.arrow:  # the tasks counted what they wrote
        rows = int(outcome.rows or 0)
        if outcome.bytes_written is not None:
            size, kind = int(outcome.bytes_written), "files written"
        else:
            size, kind = int(outcome.bytes_sent or 0), "sent to the bulk loader"
    else:
        metrics = observations[-1].get
        rows = int(metrics.get("rows") or 0)
        if outcome.bytes_written is not None:
            size, kind = int(outcome.bytes_written), "files written"
        else:
            size, kind = int(metrics.get("payload_bytes") or 0), "payload"
    return TransferStats(
        source=plan.source.name,
        target=plan.target.name,
        connector=plan.read.connector,
        reason=plan.read.reason,
        target_connector=target_connector.connector_type,
        rows=rows,
        bytes=size,
        bytes_kind=kind,
        partitions=len(plan.route.tasks) or (split[-1] if split else len(plan.read.partitions)),
        planning_seconds=planning_seconds,
        moving_seconds=moving,
        retries=retries,
        warnings=plan.warnings,
        notes=(plan.route.why, *_connect_notes(spark), *plan.read.notes, *outcome.notes),
        planning_parts=dict(plan.timings),
        columns=tuple(plan.columns.describe()),
        mode=plan.write.mode,
        inserted=outcome.inserted,
        updated=outcome.updated,
        high_water_mark=None if outcome.high_water_mark is None else str(outcome.high_water_mark),
        read_from=None if plan.incremental is None or plan.incremental.read_from is None
        else str(plan.incremental.read_from),
        null_update_keys=None if plan.incremental is None else plan.incremental.null_update_keys,
    )


def transfer(
    spark: SparkSession,
    source: Connection,
    target: Connection,
    read: ReadRequest,
    write: WriteRequest,
    *,
    buckets: Mapping[str, Bucket] | None = None,
    connector: str = "auto",
    preferred_bucket: str | None = None,
    retry: RetryConfig | None = None,
    console: Console | None = None,
    allow_lossy: Sequence[str] = (),
    route: str = "auto",
) -> TransferStats:
    """The Python API: move one table with an existing SparkSession and return its stats."""
    started = time.perf_counter()
    plan, source_connector, target_connector = plan_transfer(
        spark, source, target, read, write, buckets=buckets, connector=connector,
        preferred_bucket=preferred_bucket, console=console, allow_lossy=allow_lossy,
        route=route,
    )
    planning = time.perf_counter() - started
    return execute_transfer(spark, plan, source_connector, target_connector, retry=retry,
                            console=console, planning_seconds=planning)


def _measures(schema: StructType) -> list[Column]:
    """Row count and payload bytes, computed by the pass that moves the data."""
    from pyspark.sql import functions as F

    sizes: list[Column] = []
    for f in schema.fields:
        col = F.col("`" + f.name.replace("`", "``") + "`")
        kind = type(f.dataType).__name__
        if kind == "StringType" or kind in ("CharType", "VarcharType"):
            sizes.append(F.coalesce(F.octet_length(col), F.lit(0)))
        elif kind == "BinaryType":
            sizes.append(F.coalesce(F.length(col), F.lit(0)))
        elif kind == "DecimalType":
            width = 8 if f.dataType.precision <= 18 else 16  # type: ignore[attr-defined]
            sizes.append(F.when(col.isNotNull(), F.lit(width)).otherwise(F.lit(0)))
        elif kind in _FIXED_WIDTHS:
            sizes.append(F.when(col.isNotNull(), F.lit(_FIXED_WIDTHS[kind])).otherwise(F.lit(0)))
        else:
            sizes.append(F.coalesce(F.octet_length(F.to_json(col)), F.lit(0)))
    total = _balanced_sum([size.cast("long") for size in sizes]) if sizes else F.lit(0)
    return [F.count(F.lit(1)).alias("rows"), F.sum(total).alias("payload_bytes")]


def _balanced_sum(terms: list[Column]) -> Column:
    """``a + b + c + ...`` as a balanced tree: its depth grows with log2 of the column count,
    where a left fold nests one level per column (StackOverflowError from about 450 columns)."""
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


def _describe(exc: BaseException, *connectors: BaseConnector) -> str:
    for connector in connectors:
        message = connector.describe_error(exc)
        if message:
            return redact(message)
    text = str(exc)
    java = getattr(exc, "java_exception", None)
    if java is not None:
        with contextlib.suppress(Exception):  # py4j may be gone during shutdown
            text = str(java.toString())
    raised = re.search(r"\[USER_RAISED_EXCEPTION\]\s*(.*?)(?:\s*SQLSTATE: \w+)?\s*$", text,
                       re.MULTILINE)
    if raised:  # our own value check (a value the target cannot store): its message only
        return redact(raised.group(1))
    texts = list(texts_of(exc))
    cause = os_cause(texts)
    if cause is not None:
        return redact(cause)
    worker = worker_exception(texts)
    if worker is not None:
        return redact(f"{worker[0]}: {worker[1]}"[:500])
    first = first_meaningful_line(text) or type(exc).__name__
    return redact(first[:500])

