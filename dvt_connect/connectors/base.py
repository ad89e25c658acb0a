"""The rules every connector follows.

A connector plans and loads a read (a lazy DataFrame) and writes a DataFrame (the one action that
moves the data). Everything around that — timing, row and byte counting in the same pass,
retrying transient failures, cleaning up staging — is written once, in :mod:`dvt_connect.transfer`
and here, never in a connector (STYLE: "the base class owns the bookkeeping").
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.typeplan import SourceType
from dvt_connect.databases.spec import Database as AdapterFacts
from dvt_connect.errors import UsageError
from dvt_connect.incremental import Mark, parse_range
from dvt_connect.partitioning import Partition

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from dvt_connect.connectors.selection import Choice
    from dvt_connect.console import Console

__all__ = ["WRITE_MODES", "BaseConnector", "ConnectorType", "Partition", "ReadPlan",
           "ReadRequest", "TableRef", "WriteOutcome", "WriteRequest"]

WRITE_MODES = ("overwrite", "append", "truncate", "merge", "incremental", "backfill")


class ConnectorType(str, Enum):
    """Which connector class moves a table (see the factory's registry)."""

    JDBC = "jdbc"
    FILES = "files"
    LAKEHOUSE = "lakehouse"  # Delta Lake and Iceberg tables
    SNOWFLAKE_NATIVE = "snowflake_native"
    BIGQUERY_NATIVE = "bigquery_native"
    REDSHIFT_NATIVE = "redshift_native"
    POSTGRES_NATIVE = "postgres_native"
    MYSQL_NATIVE = "mysql_native"
    # the warehouse's own unload/load SQL through a bucket (no Spark connector jar)
    SNOWFLAKE_UNLOAD = "snowflake_unload"
    REDSHIFT_UNLOAD = "redshift_unload"
    BIGQUERY_UNLOAD = "bigquery_unload"

    @classmethod
    def native(cls, name: str) -> ConnectorType:
        return cls(f"{name}_native")

    @classmethod
    def unload(cls, name: str) -> ConnectorType:
        return cls(f"{name}_unload")


@dataclass(frozen=True)
class TableRef:
    """``[schema.]table`` as the user wrote it. Names are quoted per dialect, never spliced."""

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str) -> TableRef:
        """Split ``schema.table``; double-quoted parts may contain dots (``"my.schema".t``)."""
        parts = [p[1:-1].replace('""', '"') if p.startswith('"') else p
                 for p in re.findall(r'"(?:[^"]|"")*"|[^.]+', text.strip())]
        if not parts or len(parts) > 2 or any(not p for p in parts):
            raise UsageError(f"`{text}` is not a table name; write `table` or `schema.table`.")
        return cls(name=parts[-1], schema=parts[0] if len(parts) == 2 else None)

    def sql(self, facts: AdapterFacts) -> str:
        return facts.quote_qualified(self.schema, self.name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class ReadRequest:
    """What the user asked to read (``--table``/``--query`` and the read options)."""

    table: TableRef | None = None
    query: str | None = None
    columns: tuple[str, ...] = ()
    where: str | None = None
    partitions: int | None = None
    partition_column: str | None = None
    fetch_size: int | None = None
    # column -> the Spark type the read asks for (the column plan's: text, a number for YEAR)
    read_as: Mapping[str, str] = field(default_factory=dict)
    # a table format's version/snapshot or timestamp to read (``--as-of``)
    as_of: str | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise UsageError("give exactly one of --table and --query.")
        if self.query is not None and (self.columns or self.where):
            raise UsageError("--columns and --where go with --table; put them in --query.")


@dataclass(frozen=True)
class ReadPlan:
    """A pure description of a read, printed by ``--dry-run`` and executed by ``load``."""

    connector: ConnectorType
    reason: str
    source: str
    sql: str
    partitions: tuple[Partition, ...]
    partition_column: str | None = None
    estimated_rows: int | None = None
    fetch_size: int | None = None
    bucket: Bucket | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # Spark cuts the source into tasks itself, by size (files it reads with no job to plan
    # them): the stats count the partitions Spark planned, not ``partitions``.
    split_by_spark: bool = False
    # the table's primary-key columns, when the read returns them all (every row's key is
    # unique in what is read); () for a query or a read without them
    primary_key: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        """JSON-able, secret-free description."""
        return {
            "connector": self.connector.value,
            "reason": self.reason,
            "source": self.source,
            "sql": self.sql,
            "estimated_rows": self.estimated_rows,
            "partition_column": self.partition_column,
            "primary_key": list(self.primary_key),
            "fetch_size": self.fetch_size,
            "bucket": self.bucket.name if self.bucket else None,
            "partitions": [
                {"index": p.index, "predicate": p.predicate,
                 "lower": _jsonable(p.lower), "upper": _jsonable(p.upper)}
                for p in self.partitions
            ],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class WriteRequest:
    """Where and how to write (``--target-table``, ``--mode``, ``--batch-size``,
    ``--partition-by``, and the keys of ``merge`` and ``incremental``).

    Modes: ``overwrite`` replaces the table; ``append`` inserts; ``truncate`` keeps the table and
    replaces its rows; ``merge`` upserts by ``primary_key``; ``incremental`` reads only rows past
    the target's ``MAX(update_key)`` and merges them by ``primary_key`` (appends without one);
    ``backfill`` replaces the rows whose ``update_key`` is in ``range`` (``START..END``).
    ``high_water_mark`` and ``planned`` are set by the planner: the mark the read starts after,
    checked again under the target's lock before anything is written.
    """

    table: TableRef | None = None
    mode: str = "overwrite"
    batch_size: int | None = None
    partition_by: tuple[str, ...] = ()
    # column -> target column type kept from the source (the column plan's, same database)
    column_types: Mapping[str, str] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    update_key: str | None = None
    tie_breaker: str | None = None
    lookback: str | None = None
    lock_timeout: float = 300.0
    range: str | None = None
    high_water_mark: Mark | None = None
    planned: bool = False
    # "add": source columns a table lacks are added (table formats); None: refused
    schema_evolution: str | None = None
    # set by the planner: the source's primary key, of columns whose values compare the same in
    # every database (integers, decimals, dates, instants); databases whose tables want a key
    # (Dialect.keeps_source_key) create an overwritten table with it
    source_key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in WRITE_MODES:
            raise UsageError(f"unknown mode `{self.mode}`; valid: {', '.join(WRITE_MODES)}.")
        if self.mode == "merge" and not self.primary_key:
            raise UsageError("--mode merge needs --primary-key (the column(s) rows are matched "
                             "on), e.g. --primary-key id or --primary-key order_id,line.")
        if self.mode == "incremental" and not self.update_key:
            raise UsageError("--mode incremental needs --update-key (the column whose maximum in "
                             "the target says where the next read starts), e.g. "
                             "--update-key updated_at.")
        if self.primary_key and self.mode not in ("merge", "incremental"):
            raise UsageError(f"--primary-key applies to --mode merge and incremental, not "
                             f"`{self.mode}`.")
        if self.update_key and self.mode not in ("incremental", "backfill"):
            raise UsageError(f"--update-key applies to --mode incremental and backfill, not "
                             f"`{self.mode}`.")
        if self.mode == "backfill" and not (self.update_key and self.range):
            raise UsageError("--mode backfill needs --update-key and --range START..END (the "
                             "rows of that range are replaced), e.g. --update-key updated_at "
                             "--range 2024-01-01..2024-02-01.")
        if self.range and self.mode != "backfill":
            raise UsageError("--range applies to --mode backfill.")
        if self.range:
            parse_range(self.range)
        if self.tie_breaker and not self.primary_key:
            raise UsageError("--tie-breaker picks one row per --primary-key; give the key too.")
        if self.lookback and self.mode != "incremental":
            raise UsageError("--lookback applies to --mode incremental.")
        if self.lookback and not self.primary_key:
            raise UsageError("--lookback re-reads rows already loaded, which only a merge can "
                             "take without duplicating them; give --primary-key too.")
        folded = [k.lower() for k in self.primary_key]
        if any(not k.strip() for k in self.primary_key) or len(set(folded)) != len(folded):
            raise UsageError("--primary-key lists each column once, comma-separated: "
                             f"`{','.join(self.primary_key)}`.")
        if self.lock_timeout < 0:
            raise UsageError("--lock-timeout is a number of seconds, 0 or more.")

    @property
    def merges(self) -> bool:
        """Rows are upserted by key (merge, or incremental with a primary key)."""
        return bool(self.primary_key)


@dataclass(frozen=True)
class WriteOutcome:
    """What a write measured itself (bytes on disk for files; None where nothing is measured);
    for merges the rows inserted and matched (updated), and the target's mark afterwards."""

    bytes_written: int | None = None
    location: str = ""
    notes: tuple[str, ...] = ()
    inserted: int | None = None
    updated: int | None = None
    high_water_mark: Mark | None = None
    # Arrow end to end: rows and bytes the tasks counted themselves (no Spark observation runs)
    rows: int | None = None
    bytes_sent: int | None = None


class BaseConnector(ABC):
    """A connection that can be read from and/or written to through Spark.

    Subclasses implement only what differs: ``plan_read`` (pure), ``load`` (lazy DataFrame) and
    ``write_dataframe`` (the action). ``is_transient`` decides, from the exception alone, whether
    re-running the action can succeed; the retry loop in :mod:`dvt_connect.retry` reads
    only that.
    """

    connector_type: ClassVar[ConnectorType]
    # set by the factory: which connector was chosen and why
    choice: Choice | None = None

    def __init__(
        self,
        spark: SparkSession,
        connection: Connection,
        *,
        bucket: Bucket | None = None,
        console: Console | None = None,
    ) -> None:
        self.spark = spark
        self.connection = connection
        self.bucket = bucket
        self.console = console

    @property
    def facts(self) -> AdapterFacts:
        return self.connection.facts

    # The target's tables are created by our DDL (:mod:`dvt_connect.connectors.staging`), so the
    # column plan knows each target column type before anything is created.
    writes_our_ddl: ClassVar[bool] = False

    @abstractmethod
    def plan_read(self, request: ReadRequest, *, reason: str = "") -> ReadPlan:
        """Plan a read: partitions, bounds, options. May query catalog statistics, never data."""

    @abstractmethod
    def load(self, plan: ReadPlan) -> DataFrame:
        """The lazy DataFrame for a plan. No action runs here."""

    def read_schema(self, plan: ReadPlan) -> StructType:
        """The Spark schema a plan's read produces (no row is read)."""
        return self.load(plan).schema

    def type_facts(self) -> AdapterFacts:
        """The facts whose :class:`TypeMap` says how this connector's reads arrive (a path with
        its own type contract, such as a warehouse's unload, returns its own)."""
        return self.facts

    def source_types(self, plan: ReadPlan) -> tuple[SourceType, ...]:
        """Each column's type as the source declares it (empty where the source has none of
        its own, e.g. files)."""
        return tuple(getattr(plan, "source_types", ()))

    def write_dataframe(self, df: DataFrame, request: WriteRequest) -> WriteOutcome:
        """Run the action that moves ``df`` into this connection. Must leave the target as it
        was when it fails (staging then swap), and clean up its own staging."""
        raise UsageError(f"{self.connection.type} output `{self.connection.name}` cannot be "
                         "written to.")

    def high_water_mark(self, request: WriteRequest) -> Mark | None:
        """``MAX(update_key)`` of the target table, exactly (None: no table or no rows)."""
        raise UsageError(f"--mode incremental cannot read the high-water mark of "
                         f"{self.connection.type} output `{self.connection.name}`.")

    def count_nulls(self, request: ReadRequest, column: str) -> int | None:
        """Source rows whose ``column`` is NULL (the read's own WHERE applied); None if unknown."""
        return None

    def describe_write(self, request: WriteRequest) -> list[str]:
        """How ``request`` will be carried out here, for the plan (before anything happens)."""
        return []

    # Arrow end to end (:mod:`dvt_connect.connectors.arrow_bulk.direct`): a source that tasks
    # read as Arrow, a target that tasks write Arrow into; both must agree or Spark rows are used.
    # What is known before a session starts is said once, by the two class methods: the route
    # (``transfer.run.choose_route``) and the driver's JIT guess (``transfer.job.arrow_expected``)
    # both ask them. The instance methods add only what needs the session.
    @classmethod
    def arrow_read_problem(cls, connection: Connection, request: ReadRequest,
                           master_kind: str) -> str | None:
        """Why tasks cannot read ``request`` from ``connection`` as Arrow, from the output and
        the request alone (``master_kind``: :func:`dvt_connect.spark.master_kind`'s ``local``,
        ``connect`` or ``cluster``). None: nothing known yet stops them."""
        return f"{cls.connector_type.value} reads are Spark rows"

    @classmethod
    def arrow_write_problem(cls, connection: Connection, request: WriteRequest,
                            master_kind: str) -> str | None:
        """Why tasks cannot write Arrow batches for ``request`` into ``connection``, from the
        output and the request alone (see :meth:`arrow_read_problem`)."""
        return f"{cls.connector_type.value} writes take Spark rows"

    def arrow_source(self, plan: ReadPlan) -> Any:
        """An ``ArrowSource`` for ``plan``, or why this read hands Spark rows instead; asked
        once :meth:`arrow_read_problem` found nothing."""
        return f"{self.connector_type.value} reads are Spark rows"

    def arrow_sink_problem(self, request: WriteRequest,
                           schema: StructType | None) -> str | None:
        """Why Arrow batches cannot be written here in this session, beyond
        :meth:`arrow_write_problem` (None: they can, with :meth:`write_arrow`); with no
        ``schema``, only what holds whatever the columns are."""
        return f"{self.connector_type.value} writes take Spark rows"

    def arrow_write_note(self, source: Any, schema: StructType) -> str | None:
        """How :meth:`write_arrow` moves ``source`` when it is more than Arrow batches into the
        staging (said by ``--dry-run``); None when it is just that."""
        return None

    def write_arrow(self, source: Any, schema: StructType, request: WriteRequest) -> WriteOutcome:
        """Move ``source`` (an ``ArrowSource`` of ``schema``) into this connection, task by
        task, through the same staging as :meth:`write_dataframe`."""
        raise UsageError(f"{self.connection.type} output `{self.connection.name}` takes no "
                         "Arrow writes.")

    def connect_problem(self) -> str | None:
        """Why this connector cannot run on a Spark Connect session (None: it can). Asked at
        planning, so a refusal comes before anything is read or written."""
        return (f"the {self.connector_type.value} connector runs code in Spark's driver JVM "
                "(its Spark package's driver-side calls, a bucket's Hadoop credentials), which a "
                "Spark Connect client does not have")

    def estimate_rows(self, request: ReadRequest) -> int | None:
        """Rows the read would return, from catalog statistics (no count); None if unknown."""
        return None

    def cleanup(self) -> list[str]:
        """Remove whatever this connector staged for a read (called after the action, on
        success and failure); returns problems already reported as warnings."""
        return []

    def is_transient(self, exc: BaseException) -> bool:
        """True when re-running the failed action may succeed (default: never)."""
        return False

    def describe_error(self, exc: BaseException) -> str | None:
        """One readable line for a database error (no Java stack), or None if not ours."""
        return None


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)
