"""The native bulk connector for a database Spark also reaches over JDBC (PostgreSQL, MySQL,
MariaDB): the core's plan, the database's bulk protocol for the rows.

Planning is the JDBC connector's, unchanged: catalog estimate, partition column, quantile
boundaries, ``--where``/``--columns``/``--query``. The Spark schema is the JDBC path's own (the
``WHERE 1=0`` query Spark's JDBC source runs to resolve it), so both paths produce the same types
by construction. Each partition's predicate becomes one bulk query, run inside a Spark task by
the dialect's driver; its rows reach Spark as Arrow batches (the ``arrow`` path, a Python data
source) or as a Parquet file staged in a ``local`` bucket and read back (the ``parquet`` path).

Writes load each Spark partition into the core's staging table with the bulk loader, then swap.
Where the bulk path cannot hold a column exactly (nested types, a database type without a
mapping), the read or write goes over JDBC, says so, and says why.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import re
from abc import abstractmethod
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dvt_connect import secrets
from dvt_connect.config.buckets import Bucket, LocalBucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.arrow_bulk.columns import (
    READER_LIBRARY,
    READER_PLATFORM,
    BulkRead,
    ColumnRead,
    writable,
)
from dvt_connect.connectors.arrow_bulk.direct import (
    BulkSink,
    BulkSource,
    Moved,
    PipeTask,
    run_move,
    run_pipe,
    run_tasks,
)
from dvt_connect.connectors.arrow_bulk.tables import SqlSession, Stage, staged_write
from dvt_connect.connectors.arrow_bulk.tasks import (
    SOURCE_NAME,
    BulkWrite,
    StageTask,
    TaskError,
    driver,
    register_source,
    task_error,
)
from dvt_connect.connectors.base import (
    BaseConnector,
    ConnectorType,
    ReadPlan,
    ReadRequest,
    WriteOutcome,
    WriteRequest,
)
from dvt_connect.connectors.filesystem import StagingArea
from dvt_connect.connectors.jdbc import JDBCConnector, JdbcReadPlan
from dvt_connect.connectors.jdbc.ddl import dialect_for, logical_time
from dvt_connect.connectors.staging import guard_values
from dvt_connect.databases.spec import NativeFacts
from dvt_connect.errors import ConfigError, UsageError
from dvt_connect.executors import require_on_executors, ship_file
from dvt_connect.incremental import Mark
from dvt_connect.spark import runs_here
from dvt_connect.transfer.causes import texts_of, worker_exception

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructField, StructType

    from dvt_connect.console import Console
    from dvt_connect.partitioning import PartitionConfig

# How the rows of a native read reach Spark. Measured by benchmarks/native.py (5M rows of the
# bench table to Parquet, 2 cores, warm session), two runs: Arrow batches 15.3 s and 9.9 s,
# staged Parquet 20.2 s and 10.3 s (staged rows are encoded by pyarrow, then decoded and encoded
# again by Spark). Arrow is the default and needs no bucket; `native_path: parquet` stays as an
# option: each partition's file is re-runnable on its own, and it is the path a future
# files-target shortcut (move the staged files instead of rewriting them) would build on.
NATIVE_PATHS = ("arrow", "parquet")
_CHARACTER = re.compile(r"(?i)^\s*(character varying|varchar|character|char|bpchar|text)\b")
DEFAULT_PATH = "arrow"
PATH_KEY = "native_path"
STAGING_ROOT = "dvt"


@dataclass(frozen=True)
class NativeReadPlan(JdbcReadPlan):
    """The JDBC plan, plus how the native path runs it (no secret: the password is added by
    :meth:`BulkConnector.load`)."""

    path: str = DEFAULT_PATH
    spec_json: str = ""

    def describe(self) -> dict[str, Any]:
        doc = super().describe()
        doc["path"] = self.path
        doc["queries"] = list(json.loads(self.spec_json)["queries"]) if self.spec_json else []
        return doc


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """The Python modules of an extra that are not installed."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


class BulkConnector(BaseConnector):
    """Reads through the dialect's bulk export and writes through its bulk loader."""

    writes_our_ddl = True
    load_method: ClassVar[str]

    # What the bulk path is, from the database's native facts (never restated here).
    @property
    def native(self) -> NativeFacts:
        assert self.facts.native is not None
        return self.facts.native

    @property
    def dialect(self) -> str:
        """The task-side driver's name (:data:`~.tasks.DRIVERS`)."""
        return self.native.name

    @property
    def product(self) -> str:
        return self.facts.title

    @property
    def python_extra(self) -> str | None:
        return self.native.python_extra

    @property
    def python_modules(self) -> tuple[str, ...]:
        return self.native.python_modules

    def __init__(
        self,
        spark: SparkSession,
        connection: Connection,
        *,
        bucket: Bucket | None = None,
        console: Console | None = None,
        partition_config: PartitionConfig | None = None,
    ) -> None:
        super().__init__(spark, connection, bucket=bucket, console=console)
        missing = missing_modules(self.python_modules)
        if missing:
            raise ConfigError(
                f"the native {self.product} connector needs the Python package(s) "
                f"{', '.join(missing)}, which are not installed.",
                hint=f'Install them with `pip install "dvt-connect[{self.python_extra}]"`, or '
                     "use --connector jdbc.")
        if not runs_here(spark):  # a classic cluster, or a Connect server elsewhere
            require_on_executors(spark, self.python_modules,
                                 what=f"the native {self.product} connector",
                                 extra=self.python_extra)
        self.jdbc = JDBCConnector(spark, connection, console=console,
                                  partition_config=partition_config)
        self.path = native_path(connection)
        self.staging_area = StagingArea(spark, self.console)
        secrets.register(connection.password)

    # ---- what a dialect provides ---------------------------------------------------------

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Connection parameters for the task-side driver (no password)."""

    @abstractmethod
    def column_read(self, field: StructField) -> ColumnRead | str:
        """How to select one column of the JDBC schema, or why the bulk path cannot."""

    @abstractmethod
    def open_session(self) -> SqlSession:
        """A DB-API session on the driver for DDL and the swap."""

    def read_options(self) -> dict[str, str]:
        """Options of every task's read: :data:`READER_LIBRARY` where the database declares a
        reader library and ``dvt sync`` fetched it (a task without that file reads through the
        installed package)."""
        from dvt_connect.reader_libraries import present

        library = self.native.reader_library
        path = present(library)
        if library is None or path is None:
            return {}
        if not runs_here(self.spark):  # executors elsewhere find the copy sent with the job
            ship_file(self.spark, path)
        return {READER_LIBRARY: str(path), READER_PLATFORM: library.platform}

    def _reader_note(self) -> tuple[str, ...]:
        from dvt_connect.reader_libraries import describe

        library = self.native.reader_library
        return (describe(library),) if library is not None else ()

    def copy_selects(self, read: BulkRead) -> tuple[str, ...] | str:
        """The SQL each column of ``read`` (a bulk read of this same database) is selected as
        when this database's bulk export is piped straight into its bulk loader, or why the
        rows go through Arrow instead."""
        return f"the native {self.product} load takes Arrow batches"

    def write_problems(self) -> list[str]:
        """Why the bulk loader cannot be used on this server (e.g. a setting that is off)."""
        return []

    def connect_problem(self) -> str | None:
        if self.path == "parquet" and isinstance(self.bucket, LocalBucket):
            from dvt_connect.connectors.filesystem import connect_problem

            return connect_problem(self.spark, self.bucket.local_path(STAGING_ROOT).as_uri())
        return None  # the bulk tasks run in the server's Python workers

    # ---- errors ----------------------------------------------------------------------------

    def _error(self, exc: BaseException) -> TaskError | None:
        """The database error behind ``exc``: our task marker, a driver exception, or a driver
        message inside the traceback text of a Python worker that failed outside our guard."""
        info = task_error(exc)
        if info is None:
            cause: BaseException | None = exc
            while cause is not None and info is None:
                info = driver(self.dialect).error_info(cause)
                cause = cause.__cause__
        if info is None:
            worker = worker_exception(list(texts_of(exc)))
            if worker is not None:
                info = driver(self.dialect).text_info(worker[1])
        return info

    def is_transient(self, exc: BaseException) -> bool:
        info = self._error(exc)
        if info is not None:
            return info.transient
        return self.jdbc.is_transient(exc)

    def describe_error(self, exc: BaseException) -> str | None:
        info = self._error(exc)
        if info is None:
            described = self.jdbc.describe_error(exc)
            if described is None:
                worker = worker_exception(list(texts_of(exc)))
                if worker is not None:
                    described = (f"the native {self.product} path failed in a Spark task: "
                                 f"{worker[0]}: {worker[1]}")
            return secrets.redact(described) if described else None
        codes = ", ".join(p for p in (f"SQLState {info.sql_state}" if info.sql_state else "",
                                      f"error {info.vendor_code}" if info.vendor_code else "")
                          if p)
        return secrets.redact(f"{self.product} at {self.connection.location()}: "
                              f"{info.message}" + (f" ({codes})" if codes else ""))

    # ---- reading -------------------------------------------------------------------------------

    def estimate_rows(self, request: ReadRequest) -> int | None:
        return self.jdbc.estimate_rows(request)

    def plan_read(self, request: ReadRequest, *, reason: str = "") -> ReadPlan:
        plan = self.jdbc.plan_read(request, reason=reason)
        schema = self.jdbc.read_schema(plan)  # the JDBC path's types: one WHERE 1=0 query
        reads: list[ColumnRead] = []
        problems: list[str] = []
        for f in schema.fields:
            read = self.column_read(f)
            if isinstance(read, str):
                problems.append(read)
            else:
                reads.append(read)
        base = {f.name: getattr(plan, f.name) for f in fields(JdbcReadPlan)}
        if problems:
            why = (f"the native {self.product} path has no exact mapping for "
                   + ", ".join(problems) + "; reading over JDBC")
            if self.console is not None:
                self.console.warn(why)
            base.update(connector=ConnectorType.JDBC, reason=f"{reason}; {why}" if reason else why)
            return JdbcReadPlan(**base)
        path, notes = self._path_for_read()
        queries = tuple(self._query(plan, reads, predicate) for predicate in plan.predicates())
        values = [replace(r, expr=r.value) if r.value else r for r in reads]
        value_queries = (tuple(self._query(plan, values, predicate)
                               for predicate in plan.predicates())
                         if values != reads else ())
        from dvt_connect.connectors.jdbc.session import jvm_time_zone

        spec = BulkRead(dialect=self.dialect, params=self.params(), queries=queries,
                        columns=tuple(reads), schema_json=schema.json(),
                        time_zone=jvm_time_zone(self.spark)[0], options=self.read_options(),
                        value_queries=value_queries)
        how = (f"native {self.product} export: one bulk query per partition inside Spark "
               f"tasks, rows handed to Spark as "
               + ("Arrow batches" if path == "arrow" else "Parquet staged in "
                  f"`{self.bucket.name if self.bucket else '?'}`"))
        base.update(connector=self.connector_type, reason=reason or how,
                    bucket=self.bucket if path == "parquet" else None,
                    notes=(*plan.notes, how, *notes, *self._reader_note()))
        return NativeReadPlan(**base, path=path, spec_json=spec.to_json())

    def _path_for_read(self) -> tuple[str, tuple[str, ...]]:
        if self.path == "parquet" and not isinstance(self.bucket, LocalBucket):
            where = (f"`{self.bucket.name}` is {self.bucket.type}" if self.bucket is not None
                     else "no bucket was chosen")
            return "arrow", (f"native_path parquet stages in a `local` bucket and {where}: "
                             "rows handed to Spark as Arrow batches instead",)
        return self.path, ()

    def _query(self, plan: JdbcReadPlan, reads: list[ColumnRead], predicate: str | None) -> str:
        select = ", ".join(f"{r.expr} AS {self.facts.quote_identifier(r.name)}" for r in reads)
        sql = f"SELECT {select} FROM {plan.relation}"
        return f"{sql} WHERE {predicate}" if predicate else sql

    def read_schema(self, plan: ReadPlan) -> StructType:
        if isinstance(plan, NativeReadPlan):
            return BulkRead.from_json(plan.spec_json).spark_schema()
        return self.jdbc.read_schema(plan)

    def load(self, plan: ReadPlan) -> DataFrame:
        if not isinstance(plan, NativeReadPlan):
            if isinstance(plan, JdbcReadPlan):
                return self.jdbc.load(plan)
            raise UsageError(f"a {plan.connector.value} plan cannot be loaded by the native "
                             f"{self.product} connector.")
        spec = BulkRead.from_json(plan.spec_json)
        schema = spec.spark_schema()
        password = self.connection.password or ""
        if plan.path == "arrow":
            register_source(self.spark)
            return (self.spark.read.format(SOURCE_NAME).schema(schema)
                    .option("spec", plan.spec_json).option("password", password).load())
        self.cleanup()  # a retried action stages afresh
        folder = self._staging_folder()
        count = len(spec.queries)
        run_tasks(self.spark, count, StageTask(plan.spec_json, password, str(folder)))
        return self.spark.read.schema(schema).parquet(folder.as_uri())

    def _staging_folder(self) -> Path:
        from dvt_connect.connectors.native import new_run_id

        assert isinstance(self.bucket, LocalBucket)
        folder = self.bucket.local_path(f"{STAGING_ROOT}/{new_run_id()}")
        folder.mkdir(parents=True, exist_ok=False)
        if not len(self.staging_area):
            atexit.register(self.cleanup)
        self.staging_area.add(folder)
        return folder

    def cleanup(self) -> list[str]:
        """Delete the staged Parquet of this connector's reads (the orchestrator calls this
        after the action, on success and failure; a retried read also starts clean)."""
        return self.staging_area.cleanup()

    @property
    def staged_paths(self) -> tuple[Path, ...]:
        return self.staging_area.paths

    # ---- writing ---------------------------------------------------------------------------

    def _write_problems(self, schema: StructType, request: WriteRequest) -> list[str]:
        from pyspark.sql.types import StringType

        problems = [f"`{f.name}` ({f.dataType.simpleString()})" for f in schema.fields
                    if not writable(f.dataType)]
        # text into a character column is what the bulk loaders send anyway; text into other
        # declared types (uuid, numeric read as its text) needs JDBC's casts. A declared column
        # Spark reads as its own type (numeric(p,s) as decimal(p,s)) loads as it always does.
        text = {f.name for f in schema.fields if isinstance(f.dataType, StringType)}
        declared = {n: t for n, t in request.column_types.items()
                    if n in text and not _CHARACTER.match(t)}
        if declared:
            problems.append("text into the source's own column types ("
                            + ", ".join(f"`{n}` {t}" for n, t in declared.items()) + ")")
        # a time of day Spark holds as a timestamp (kept so in Parquet's footer too) gets a TIME
        # column, which the bulk loaders would be sent a timestamp for; JDBC's casts take it
        times = [f.name for f in schema.fields if logical_time(f)]
        if times and "time" in dialect_for(self.facts).types:
            problems.append("times of day held as timestamps into TIME columns ("
                            + ", ".join(f"`{n}`" for n in times) + ")")
        return problems + self.write_problems()

    def write_dataframe(self, df: DataFrame, request: WriteRequest) -> WriteOutcome:
        problems = self._write_problems(df.schema, request)
        if problems:
            why = (f"the native {self.product} load cannot take " + "; ".join(problems)
                   + ": writing over JDBC")
            if self.console is not None:
                self.console.warn(why)
            outcome = self.jdbc.write_dataframe(df, request)
            # the JDBC write's counts and mark are this write's (merge, incremental)
            return replace(outcome, notes=(why, *outcome.notes))
        password = self.connection.password or ""
        from pyspark.sql import functions as F
        from pyspark.sql.types import TimestampType

        df = guard_values(df, dialect_for(self.facts))

        # Spark converts timestamps to Arrow slowly (measured: a third of the whole hand-over
        # for the bench table); epoch microseconds travel as plain longs and the task turns
        # them back into instants.
        instants = tuple(f.name for f in df.schema.fields if isinstance(f.dataType,
                                                                        TimestampType))
        moved = df.select(*[F.unix_micros(F.col(_quoted(f.name))).alias(f.name)
                            if f.name in instants else F.col(_quoted(f.name))
                            for f in df.schema.fields]) if instants else df

        def fill(stage: Stage) -> None:
            spec = BulkWrite(dialect=self.dialect, params=self.params(), schema=stage.schema,
                             table=stage.name, columns=stage.columns, micros_columns=instants,
                             keyed=bool(stage.key))
            register_source(self.spark)
            (moved.write.format(SOURCE_NAME).mode("append").option("write_spec", spec.to_json())
             .option("password", password).save())

        return staged_write(self.connection, df, request, open_session=self.open_session,
                            fill=fill, console=self.console,
                            how=f"native {self.product} load: {self.load_method} per Spark "
                                "partition into the staging table")


    # ---- Arrow end to end ------------------------------------------------------------------

    @classmethod
    def arrow_read_problem(cls, connection: Connection, request: ReadRequest,
                           master_kind: str) -> str | None:
        return None  # the bulk export runs in any Spark task, on any master

    @classmethod
    def arrow_write_problem(cls, connection: Connection, request: WriteRequest,
                            master_kind: str) -> str | None:
        return None  # the server's own settings are asked in the session (write_problems)

    def arrow_source(self, plan: ReadPlan) -> Any:
        if not isinstance(plan, NativeReadPlan):
            return (f"the {self.product} read goes over JDBC"
                    + (f" ({plan.reason})" if plan.reason else ""))
        return BulkSource(plan.spec_json, self.connection.password or "")

    def arrow_sink_problem(self, request: WriteRequest,
                           schema: StructType | None) -> str | None:
        problems = (self._write_problems(schema, request) if schema is not None
                    else self.write_problems())
        if problems:
            return f"the native {self.product} load cannot take " + "; ".join(problems)
        return None

    def _no_nan(self, schema: StructType) -> tuple[str, ...]:
        """The float columns whose NaN and infinities this database cannot hold."""
        from pyspark.sql.types import DoubleType, FloatType

        if dialect_for(self.facts).holds_nan:
            return ()
        return tuple(f.name for f in schema.fields
                     if isinstance(f.dataType, (FloatType, DoubleType)))

    def piped(self, source: Any, schema: StructType) -> tuple[str, ...] | str:
        """The selects that pipe ``source`` server to server (:meth:`copy_selects`), or why the
        tasks move Arrow batches."""
        if not isinstance(source, BulkSource):
            return "the source is not a database bulk export"
        read = BulkRead.from_json(source.spec_json)
        if read.dialect != self.dialect:
            return f"the source is not {self.product}"
        if self._no_nan(schema):
            return "float columns are checked for NaN on the way"
        return self.copy_selects(read)

    def arrow_write_note(self, source: Any, schema: StructType) -> str | None:
        return None if isinstance(self.piped(source, schema), str) else self._pipe_note()

    def _pipe_note(self) -> str:
        return (f"{self.product} to {self.product}: each task pipes its partition's binary "
                f"COPY from the source server into the staging table's {self.load_method}, "
                "with no Arrow in between")

    def write_arrow(self, source: Any, schema: StructType, request: WriteRequest) -> WriteOutcome:
        from dvt_connect.connectors.typeplan import nan_guard_message

        dialect = dialect_for(self.facts)
        no_nan = self._no_nan(schema)
        message = nan_guard_message("{column}", "{value}", dialect.title)
        selects = self.piped(source, schema)
        moved: list[Moved] = []

        def fill(stage: Stage) -> None:
            spec = BulkWrite(dialect=self.dialect, params=self.params(), schema=stage.schema,
                             table=stage.name, columns=stage.columns, keyed=bool(stage.key))
            password = self.connection.password or ""
            if isinstance(selects, str):
                sink = BulkSink(spec.to_json(), password, no_nan, message)
                moved.append(run_move(self.spark, source, sink, schema))
            else:
                moved.append(run_pipe(self.spark, PipeTask(source.spec_json, source.password,
                                                           selects, spec.to_json(), password)))

        how = (f"native {self.product} load: {self.load_method} per Spark task into the "
               "staging table, from Arrow batches" if isinstance(selects, str)
               else self._pipe_note())
        outcome = staged_write(self.connection, schema, request, open_session=self.open_session,
                               fill=fill, console=self.console, how=how)
        return replace(outcome, rows=moved[-1].rows if moved else 0,
                       bytes_sent=moved[-1].bytes if moved else 0)

    def high_water_mark(self, request: WriteRequest) -> Mark | None:
        from dvt_connect.connectors.staging import high_water_mark

        return high_water_mark(self.connection, request, self.open_session)

    def count_nulls(self, request: ReadRequest, column: str) -> int | None:
        return self.jdbc.count_nulls(request, column)

    def describe_write(self, request: WriteRequest) -> list[str]:
        return self.jdbc.describe_write(request)


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def native_path(connection: Connection) -> str:
    """``native_path:`` of the output (``arrow`` or ``parquet``), checked."""
    value = str(connection.extra.get(PATH_KEY) or DEFAULT_PATH).lower()
    if value not in NATIVE_PATHS:
        raise ConfigError(f"unknown {PATH_KEY} `{value}`; valid: {', '.join(NATIVE_PATHS)}.",
                          path=connection.source_file, key=f"{connection.name}.{PATH_KEY}")
    return value
