"""What runs inside Spark tasks: the Python data source that hands Arrow batches to Spark, the
task that stages a partition as Parquet, and the task that bulk-loads a partition.

Each dialect's database work lives in its ``driver`` module (:data:`DRIVERS`), imported in the
task. A driver error leaves the task as :class:`NativeTaskError`, whose message carries a
marker with the SQLState, vendor code and the retry verdict decided in the task (from the same
rules as the JDBC path, :mod:`dvt_connect.connectors.jdbc.errors`); the driver side reads the
marker back from whatever Spark wraps it in (:func:`task_error`).
"""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)

from dvt_connect.connectors.arrow_bulk.columns import BulkRead, conform
from dvt_connect.databases import DATABASES

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import StructType

SOURCE_NAME = "dvt_bulk"

# Bulk dialect -> its driver module, as each database's native facts declare it.
DRIVERS = {db.native.name: db.native.driver_module for db in DATABASES.values()
           if db.native is not None and db.native.driver_module}


def driver(dialect: str) -> Any:
    return importlib.import_module(DRIVERS[dialect])


# ---- errors that cross the task boundary -----------------------------------------------------

_MARKER = re.compile(r"\[dvt-native dialect=(\w+) sqlstate=(\S+) code=(-?\d+) "
                     r"verdict=(\w+)\] ([^\n]*)")


@dataclass(frozen=True)
class TaskError:
    """A database error raised in a task, as the driver side reads it back."""

    dialect: str
    sql_state: str | None
    vendor_code: int | None
    transient: bool
    message: str


class NativeTaskError(RuntimeError):
    """A database error in a task; the message starts with a marker the driver side parses."""

    def __init__(self, info: TaskError) -> None:
        self.info = info
        super().__init__(
            f"[dvt-native dialect={info.dialect} sqlstate={info.sql_state or '-'} "
            f"code={info.vendor_code or 0} verdict="
            f"{'transient' if info.transient else 'terminal'}] {info.message}"
        )


def task_error(exc: BaseException) -> TaskError | None:
    """The task error behind ``exc`` (a PythonException, a Py4J error, or ours), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    texts: list[str] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NativeTaskError):
            return current.info
        texts.append(str(current))
        java = getattr(current, "java_exception", None)
        if java is not None:
            with contextlib.suppress(Exception):  # the JVM may be gone; the Python text stays
                texts.append(str(java.toString()))
        current = current.__cause__ or current.__context__
    for text in texts:
        match = _MARKER.search(text)
        if match:
            dialect, state, code, verdict, message = match.groups()
            return TaskError(dialect, None if state == "-" else state, int(code) or None,
                             verdict == "transient", message.strip())
    return None


def guarded(dialect: str, action: Callable[[], Any]) -> Any:
    """Run ``action``; a database error becomes a :class:`NativeTaskError`."""
    try:
        return action()
    except NativeTaskError:
        raise
    except Exception as exc:
        info = driver(dialect).error_info(exc)
        if info is None:
            raise
        raise NativeTaskError(info) from None


def guarded_iter(dialect: str, items: Iterator[Any]) -> Iterator[Any]:
    """``items``, with database errors raised while iterating turned into task errors."""
    while True:
        try:
            item = guarded(dialect, lambda: next(items, _END))
        except StopIteration:  # pragma: no cover - next() with a default never raises it
            return
        if item is _END:
            return
        yield item


_END = object()


def read_partition(spec: BulkRead, password: str | None, index: int,
                   target: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The Arrow batches of partition ``index``, each exactly ``target``."""
    raw = driver(spec.dialect).read_batches(spec, password, spec.queries[index])
    for batch in guarded_iter(spec.dialect, raw):
        if batch.num_rows:
            yield conform(batch, target, spec.columns, spec.time_zone)


# ---- the Arrow path: a Python data source -----------------------------------------------------

class BulkDataSource(DataSource):
    """``spark.read.format("dvt_bulk").schema(...).option("spec", ...).load()``: one Spark
    partition per query of the spec, read by the dialect's driver inside the task.
    ``df.write.format("dvt_bulk").option("write_spec", ...).mode("append").save()``: each task
    bulk-loads its partition's Arrow batches (:class:`BulkWriter`)."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> StructType:
        return BulkRead.from_json(self.options["spec"]).spark_schema()

    def reader(self, schema: StructType) -> DataSourceReader:
        return BulkReader(dict(self.options), schema)

    def writer(self, schema: StructType, overwrite: bool) -> DataSourceArrowWriter:
        return BulkWriter(dict(self.options))


class BulkReader(DataSourceReader):
    def __init__(self, options: dict[str, str], schema: StructType) -> None:
        self.spec_json = options["spec"]
        self.password = options.get("password")
        self.schema = schema

    def partitions(self) -> list[InputPartition]:
        return [InputPartition(i) for i in range(len(BulkRead.from_json(self.spec_json).queries))]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        from dvt_connect.connectors.arrow_bulk.columns import arrow_schema_of

        spec = BulkRead.from_json(self.spec_json)
        yield from read_partition(spec, self.password, int(partition.value),
                                  arrow_schema_of(self.schema))


_REGISTERING = threading.Lock()


def register_source(spark: Any) -> None:
    """Register the data source with this session (idempotent, and safe when `dvt run`'s
    streams start bulk reads on several threads at once: Spark refuses a second registration)."""
    with _REGISTERING:
        if not getattr(spark, "_dvt_bulk_registered", False):
            spark.dataSource.register(BulkDataSource)
            spark._dvt_bulk_registered = True


# ---- the staged path: each task writes its partition as Parquet -------------------------------

@dataclass(frozen=True)
class StageTask:
    """``rdd.mapPartitions`` body: COPY partition ``i`` into ``<folder>/part-<i>.parquet``,
    row group by row group, renamed into place when complete (a re-run overwrites it)."""

    spec_json: str
    password: str | None
    folder: str

    def __call__(self, indexes: Iterable[int]) -> Iterator[tuple[int, int, int]]:
        import os

        from dvt_connect.connectors.arrow_bulk.direct import write_parquet

        spec = BulkRead.from_json(self.spec_json)
        target = spec.arrow_schema()
        for index in indexes:
            path = os.path.join(self.folder, f"part-{index:05d}.parquet")
            rows = write_parquet(path, read_partition(spec, self.password, index, target),
                                 target)
            yield index, rows, os.path.getsize(path)


# ---- the write side: each task bulk-loads its partition ---------------------------------------

@dataclass(frozen=True)
class BulkWrite:
    """Everything a task needs to load its partition into the staging table (no secret)."""

    dialect: str
    params: dict[str, Any]
    schema: str | None
    table: str
    columns: tuple[str, ...]
    # instants Spark hands over as epoch microseconds (bigint): Spark's own conversion of
    # timestamps to Arrow costs more than the rest of a row together (see BulkConnector)
    micros_columns: tuple[str, ...] = ()
    # rows per LOAD DATA file (MySQL/MariaDB): small enough that loading starts early and a
    # task holds little, large enough that one statement's overhead does not count
    chunk_rows: int = 250_000
    options: dict[str, str] = field(default_factory=dict)
    # the staging table has a primary key (Stage.key): tasks may load it at once
    keyed: bool = False

    def to_json(self) -> str:
        import json

        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BulkWrite:
        import json

        data = json.loads(text)
        data["columns"] = tuple(data["columns"])
        data["micros_columns"] = tuple(data.get("micros_columns", ()))
        return cls(**data)


@dataclass(frozen=True)
class LoadResult(WriterCommitMessage):
    rows: int
    bytes: int


class BulkWriter(DataSourceArrowWriter):
    """Each task loads its partition into the staging table in one transaction. Commit and
    abort have nothing to do: the staged write on the driver swaps or drops the table."""

    def __init__(self, options: dict[str, str]) -> None:
        self.spec_json = options["write_spec"]
        self.password = options.get("password")

    def write(self, iterator: Iterator[pa.RecordBatch]) -> LoadResult:
        spec = BulkWrite.from_json(self.spec_json)
        load = driver(spec.dialect).load_batches
        batches = restore_instants(iterator, spec.micros_columns)
        rows, sent = guarded(spec.dialect, lambda: load(spec, self.password, batches))
        return LoadResult(rows, sent)


def restore_instants(batches: Iterator[pa.RecordBatch],
                     columns: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
    """Epoch-microsecond columns back to ``timestamp[us, tz=UTC]``."""
    import pyarrow as pa

    if not columns:
        yield from batches
        return
    instant = pa.timestamp("us", tz="UTC")
    for batch in batches:
        arrays = [a.cast(instant) if name in columns else a
                  for name, a in zip(batch.schema.names, batch.columns, strict=True)]
        yield pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
