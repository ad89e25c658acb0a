"""Arrow end to end: each Spark task reads its partition as Arrow record batches and writes
them straight into the target's staging, never as Spark rows.

Spark still schedules, retries and distributes the tasks (``parallelize(range(n), n)
.mapPartitions(MoveTask)``); each task streams its partition batch by batch (memory bounded by
a batch, not a partition) and returns its exact row and byte counts, which the driver sums. The
staged write around the tasks (lock, staging table or folder, swap, cleanup) is the target
connector's own, unchanged.

Sources: a native database read (:class:`BulkSource`, the plan's bulk queries) and local
Parquet files (:class:`ParquetSource`, read by pyarrow). Sinks: a folder of Parquet files
written by pyarrow (:class:`ParquetSink`) and a database's bulk loader into the staging table
(:class:`BulkSink`: binary COPY, LOAD DATA). Every batch is first made exactly the Arrow schema
Spark would have handed the writer for the same columns (:func:`.columns.conform`,
:func:`.columns.arrow_schema_of`), so both routes write the same values.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dvt_connect.connectors.arrow_bulk.columns import BulkRead, arrow_schema_of

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

BATCH_ROWS = 65_536
# rows per Parquet row group the Arrow route writes (DuckDB's default is 122,880): the batches
# a reader hands over are smaller (about 13,000 rows of the bench table per 1 MiB batch)
ROW_GROUP_ROWS = 65_536
# The footer key under which Spark's Parquet writer keeps the Spark schema it wrote, and which
# Spark's schema inference takes before the Parquet schema (``readSchemaFromFooter``).
SPARK_ROW_KEY = b"org.apache.spark.sql.parquet.row.metadata"


class ArrowSource(Protocol):
    """What a task reads: partition ``index`` as batches of exactly ``target``."""

    def count(self) -> int: ...

    def batches(self, index: int, target: pa.Schema) -> Iterator[pa.RecordBatch]: ...


class ArrowSink(Protocol):
    """Where a task writes: returns (rows, bytes) written for partition ``index``."""

    def write(self, index: int, batches: Iterator[pa.RecordBatch],
              schema: pa.Schema) -> tuple[int, int]: ...


# ---- sources ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BulkSource:
    """A native database read: one bulk query per partition (the read plan's)."""

    spec_json: str
    password: str | None = field(repr=False)

    def count(self) -> int:
        return len(BulkRead.from_json(self.spec_json).queries)

    def batches(self, index: int, target: pa.Schema) -> Iterator[pa.RecordBatch]:
        from dvt_connect.connectors.arrow_bulk.tasks import read_partition

        yield from read_partition(BulkRead.from_json(self.spec_json), self.password, index,
                                  target)


# what one task reads of a Parquet file: its path and a run of its row groups (None: all)
ParquetSlice = tuple[str, "tuple[int, ...] | None"]


@dataclass(frozen=True)
class ParquetFacts:
    """A Parquet data file as its footer describes it: path, bytes, rows of each row group."""

    path: str
    size: int
    row_groups: tuple[int, ...]


@dataclass(frozen=True)
class ParquetSource:
    """Local Parquet files read by pyarrow: per partition, whole files or a run of row groups
    (:func:`parquet_tasks`); each batch cast to the schema Spark reads the files as (columns
    matched by name)."""

    groups: tuple[tuple[ParquetSlice, ...], ...]
    rows: tuple[int, ...] = ()

    def count(self) -> int:
        return len(self.groups)

    def describe(self) -> tuple[str, ...]:
        """What each task reads, for the plan: file names (or one file's row groups), rows."""
        described = []
        for index, group in enumerate(self.groups):
            parts = [os.path.basename(path) if groups is None else
                     f"{os.path.basename(path)} row groups {groups[0]}-{groups[-1]}"
                     if len(groups) > 1 else f"{os.path.basename(path)} row group {groups[0]}"
                     for path, groups in group]
            shown = ", ".join(parts[:2]) + (f" and {len(parts) - 2} more file(s)"
                                            if len(parts) > 2 else "")
            rows = f" ({self.rows[index]:,} rows)" if index < len(self.rows) else ""
            described.append(shown + rows)
        return tuple(described)

    def batches(self, index: int, target: pa.Schema) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for path, row_groups in self.groups[index]:
            # legacy INT96 timestamps as microseconds (nanoseconds overflow outside 1677-2262)
            with pq.ParquetFile(path, coerce_int96_timestamp_unit="us") as file:
                for batch in file.iter_batches(batch_size=BATCH_ROWS, row_groups=row_groups,
                                               columns=target.names, use_threads=False):
                    if batch.num_rows:
                        arrays = [batch.column(f.name).cast(f.type) for f in target]
                        yield pa.RecordBatch.from_arrays(arrays, schema=target)


def parquet_tasks(files: Iterable[ParquetFacts], cores: int) -> ParquetSource:
    """The tasks that read ``files``: one per core, each of at least
    :data:`~dvt_connect.partitioning.PartitionConfig.rows_per_partition` rows (a small input
    gets fewer). The files' row groups, in path order, are cut into that many runs of about
    equal rows: a task reads whole files, or part of a large one, as Spark splits files.

    Measured, 5M rows into PostgreSQL and MariaDB on 2 cores (moving seconds): one file read by
    1 task 5.7-5.8 and 14.8-18.1 s, by 2 tasks 4.5-4.7 and 13.5-14.3 s, by 8 tasks 6.4-6.7 and
    15.6-17.5 s; 8 files in 4 groups of whole files 5.7-6.0 s into PostgreSQL."""
    from dvt_connect.partitioning import PartitionConfig

    facts = sorted(files, key=lambda f: f.path)
    total = sum(sum(f.row_groups) for f in facts)
    groups_in = {f.path: len(f.row_groups) for f in facts}
    least = PartitionConfig().rows_per_partition
    wanted = max(1, min(max(1, cores), -(-total // least)))
    runs: list[list[tuple[str, int, int]]] = [[]]
    done, cut = 0, 1
    for f in facts:
        for index, rows in enumerate(f.row_groups):
            if runs[-1] and done >= total * cut / wanted:
                runs.append([])
                cut += 1
            runs[-1].append((f.path, index, rows))
            done += rows
    groups, counts = [], []
    for run in runs:
        slices: list[ParquetSlice] = []
        for path in dict.fromkeys(p for p, _, _ in run):
            indexes = tuple(i for p, i, _ in run if p == path)
            slices.append((path, None if len(indexes) == groups_in[path] else indexes))
        groups.append(tuple(slices))
        counts.append(sum(rows for _, _, rows in run))
    return ParquetSource(tuple(groups), tuple(counts))


# ---- sinks ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParquetSink:
    """``<folder>/part-<i>-<run>.snappy.parquet`` per partition (``run`` keeps appended files
    apart), written row group by row group and renamed into place when complete (a re-run task
    overwrites its own file). ``spark_schema`` (the transfer's Spark schema as JSON) goes into
    each footer under :data:`SPARK_ROW_KEY`, as Spark's writer puts it there: Spark reads the
    files back with exactly that schema, and a later transfer reads it without the JVM."""

    folder: str
    run: str
    spark_schema: str = ""

    def write(self, index: int, batches: Iterator[pa.RecordBatch],
              schema: pa.Schema) -> tuple[int, int]:

        path = os.path.join(self.folder, f"part-{index:05d}-{self.run}.snappy.parquet")
        if self.spark_schema:
            schema = schema.with_metadata({**(schema.metadata or {}),
                                           SPARK_ROW_KEY: self.spark_schema.encode()})
        rows = write_parquet(path, batches, schema)
        return rows, os.path.getsize(path)


def write_parquet(path: str, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> int:
    """Stream ``batches`` into a Parquet file at ``path`` in row groups of about
    :data:`ROW_GROUP_ROWS` rows, whatever the batches' size (a partial file renamed into place
    when complete, so a file there is whole); returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder, name = os.path.split(path)
    partial = os.path.join(folder, f".{name}.{os.getpid()}.partial")
    rows = 0
    try:
        with pq.ParquetWriter(partial, schema, compression="snappy",
                              coerce_timestamps="us") as writer:
            pending: list[pa.RecordBatch] = []
            held = 0
            for batch in batches:
                pending.append(batch)
                held += batch.num_rows
                if held >= ROW_GROUP_ROWS:
                    writer.write_table(pa.Table.from_batches(pending, schema), held)
                    rows += held
                    pending, held = [], 0
            if held:
                writer.write_table(pa.Table.from_batches(pending, schema), held)
                rows += held
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return rows


@dataclass(frozen=True)
class BulkSink:
    """A database's bulk loader into the staging table (``write_json`` is a
    :class:`~.tasks.BulkWrite`); float columns in ``no_nan`` refuse NaN and infinities with the
    message the Spark route raises (``nan_message`` has ``{column}`` and ``{value}``)."""

    write_json: str
    password: str | None = field(repr=False)
    no_nan: tuple[str, ...] = ()
    nan_message: str = ""

    def write(self, index: int, batches: Iterator[pa.RecordBatch],
              schema: pa.Schema) -> tuple[int, int]:
        from dvt_connect.connectors.arrow_bulk.tasks import BulkWrite, driver, guarded

        spec = BulkWrite.from_json(self.write_json)
        load = driver(spec.dialect).load_batches
        checked = self._checked(batches) if self.no_nan else batches
        rows, sent = guarded(spec.dialect, lambda: load(spec, self.password, checked))
        return int(rows), int(sent)

    def _checked(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow.compute as pc

        for batch in batches:
            for name in self.no_nan:
                column = batch.column(name)
                bad = pc.or_(pc.is_nan(column), pc.is_inf(column))
                if pc.any(bad).as_py():
                    value = float(pc.filter(column, bad)[0].as_py())
                    text = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
                    raise ValueError(self.nan_message.format(column=name, value=text))
            yield batch


# ---- the tasks --------------------------------------------------------------------------------

@dataclass(frozen=True)
class MoveTask:
    """``mapPartitions`` body: read partition ``i`` from ``source``, write it to ``sink``."""

    source: Any
    sink: Any
    schema_json: str

    def __call__(self, indexes: Iterable[int]) -> Iterator[tuple[int, int, int]]:
        import json

        from pyspark.sql.types import StructType

        target = arrow_schema_of(StructType.fromJson(json.loads(self.schema_json)))
        for index in indexes:
            rows, size = self.sink.write(index, self.source.batches(index, target), target)
            yield index, rows, size


@dataclass(frozen=True)
class PipeTask:
    """``mapPartitions`` body when both ends are one database with a bulk protocol of its own
    on each side (PostgreSQL's binary COPY): the dialect's driver pipes partition ``i`` of the
    source's bulk read (``read_json``, a :class:`BulkRead`) into the staging table of
    ``write_json`` (a :class:`~.tasks.BulkWrite`), each column selected as ``selects`` says."""

    read_json: str
    read_password: str | None = field(repr=False)
    selects: tuple[str, ...]
    write_json: str
    write_password: str | None = field(repr=False)

    def __call__(self, indexes: Iterable[int]) -> Iterator[tuple[int, int, int]]:
        from dvt_connect.connectors.arrow_bulk.tasks import BulkWrite, driver, guarded

        read = BulkRead.from_json(self.read_json)
        write = BulkWrite.from_json(self.write_json)
        pipe = driver(write.dialect).copy_partition
        for index in indexes:
            rows, size = guarded(write.dialect, functools.partial(
                pipe, read, self.read_password, index, self.selects, write, self.write_password))
            yield index, int(rows), int(size)


@dataclass(frozen=True)
class Moved:
    """What the tasks wrote, summed from their own counts."""

    rows: int
    bytes: int
    tasks: int


def run_move(spark: SparkSession, source: ArrowSource, sink: ArrowSink,
             schema: StructType) -> Moved:
    """One Spark job: a task per source partition, each moving its partition as Arrow."""
    return _counted(spark, source.count(), MoveTask(source, sink, schema.json()))


def run_pipe(spark: SparkSession, task: PipeTask) -> Moved:
    """One Spark job: a task per partition of the source's bulk read, each piping it."""
    return _counted(spark, len(BulkRead.from_json(task.read_json).queries), task)


def _counted(spark: Any, count: int,
             task: Callable[[Iterable[int]], Iterator[tuple[int, int, int]]]) -> Moved:
    if count == 0:
        return Moved(0, 0, 0)
    done = run_tasks(spark, count, task)
    return Moved(sum(r for _, r, _ in done), sum(b for _, _, b in done), len(done))


def run_tasks(spark: Any, count: int,
              task: Callable[[Iterable[int]], Iterator[tuple[int, int, int]]]
              ) -> list[tuple[int, int, int]]:
    """Run ``task`` on partition indexes ``0..count-1``, one Spark task each, and collect what
    each returns (index, rows, bytes). Spark Connect has no RDDs: there the indexes are a
    ``range`` of ``count`` partitions (one index each) mapped through ``mapInArrow``."""
    from dvt_connect.spark import is_connect

    if not is_connect(spark):
        return list(spark.sparkContext.parallelize(range(count), count)
                    .mapPartitions(task).collect())

    def body(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            for index, rows, size in task(batch.column(0).to_pylist()):
                yield pa.RecordBatch.from_pydict({"i": [index], "rows": [rows],
                                                  "bytes": [size]})

    frame = spark.range(0, count, 1, count).mapInArrow(body, "i long, rows long, bytes long")
    return [(int(r["i"]), int(r["rows"]), int(r["bytes"])) for r in frame.collect()]
