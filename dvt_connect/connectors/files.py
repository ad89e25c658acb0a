"""The ``files`` connector: Parquet (default), CSV, JSON or ORC at a local path or a bucket path.

A files output's ``path`` is a folder: a local path (``~`` and relative paths resolved against
the working directory) or a URI (``s3://`` is read as ``s3a://``, Hadoop's S3 filesystem;
``gs://``, ``abfss://``, ``file://`` as written). With ``bucket: <name>`` in the output, a relative
``path`` lives in that bucket from ``buckets.yml``.

Tables are paths under it: ``--table events`` is ``<path>/events`` (else the file
``<path>/events.<format>``, else ``<path>`` itself when its last part is ``events``);
``--table raw.events`` is ``<path>/raw/events``. Writing with no ``--target-table`` writes
``<path>`` itself.

Writes go through a hidden sibling folder (``.<name>__dvt_stage_<random>``; Spark and Hive skip
names starting with ``.``), all through Hadoop's FileSystem API so ``file://`` and ``s3a://``
behave alike. ``overwrite`` then renames the folder into place (the old one is renamed away
first and deleted after); ``append`` moves the new data files into the target. A failed Spark
job therefore leaves the target untouched. Bytes written are measured: the sizes of the data
files the job wrote, listed through the FileSystem API.

CSV and JSON get timestamp formats with microseconds and offsets (Spark's defaults keep
milliseconds), JSON keeps null fields, CSV has a header. An output's ``options:`` mapping
overrides these and is passed to Spark's reader and writer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dvt_connect.connectors.arrow_bulk.direct import SPARK_ROW_KEY
from dvt_connect.connectors.base import (
    BaseConnector,
    ConnectorType,
    Partition,
    ReadPlan,
    ReadRequest,
    TableRef,
    WriteOutcome,
    WriteRequest,
)
from dvt_connect.connectors.filesystem import (
    HadoopFS,
    LocalFS,
    StagingArea,
    connect_problem,
    file_system,
    hidden,
)
from dvt_connect.connectors.jdbc.ddl import OLD_MARK, STAGE_MARK, side_token
from dvt_connect.connectors.parquet_footer import Footer, FooterError, read_footers
from dvt_connect.databases.files import FilesConnection
from dvt_connect.errors import ConfigError, SourceError, TransferError, UsageError
from dvt_connect.incremental import Mark, mark_of

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from dvt_connect.config.buckets import Bucket
    from dvt_connect.config.profiles import Connection

_TS = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
_TS_NTZ = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"

# Spark options per format, for reading and writing, before the output's own ``options:``.
FORMAT_OPTIONS: Mapping[str, Mapping[str, str]] = {
    "parquet": {},
    "orc": {},
    # Spark's CSV writer trims leading and trailing spaces by default (" " arrived as ""), and
    # escapes quotes with a backslash (`\"`), which RFC 4180 readers misread: quotes doubled.
    "csv": {"header": "true", "timestampFormat": _TS, "timestampNTZFormat": _TS_NTZ,
            "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false",
            "escape": '"'},
    "json": {"timestampFormat": _TS, "timestampNTZFormat": _TS_NTZ,
             "ignoreNullFields": "false"},
}
# Types a format cannot hold (Spark refuses them with a less helpful message).
UNSUPPORTED_TYPES: Mapping[str, tuple[str, ...]] = {
    "csv": ("binary", "array", "map", "struct", "variant"),
}
SELECT_KEY = "dvt.select"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def join_path(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts if p)])


def files_root(connection: FilesConnection, bucket: Bucket | None) -> str:
    """A files output's folder as a URI Spark's Hadoop filesystem reads (``bucket``: the one
    loaded from buckets.yml under the output's ``bucket:`` name, if any)."""
    from pathlib import Path

    raw = connection.path or ""
    bucket_name = connection.bucket
    if bucket_name:
        if bucket is None or bucket.name != bucket_name:
            raise ConfigError(
                f"files output `{connection.name}` names bucket `{bucket_name}`, "
                "which was not loaded from buckets.yml.",
                path=connection.source_file, key=f"{connection.name}.bucket",
                hint="Add it to buckets.yml, or give `path` as a full URI.",
            )
        if _SCHEME.match(raw):
            raise ConfigError(
                f"`path` of files output `{connection.name}` is a full URI and a "
                "`bucket` is named too; give one of them.",
                path=connection.source_file, key=f"{connection.name}.path",
            )
        return bucket.spark_path(raw).rstrip("/")
    if raw.startswith("s3://"):
        return "s3a://" + raw[len("s3://"):].rstrip("/")
    if _SCHEME.match(raw):
        return raw.rstrip("/")
    # not Path.as_uri(): Hadoop's Path would keep its %-escapes as literal characters
    return "file://" + Path(raw).expanduser().resolve().as_posix()


def _pyarrow_problem(connection: Connection, master_kind: str, verbs: tuple[str, str],
                     request_problem: str | None) -> str | None:
    """Why pyarrow in the session's tasks cannot read or write (``verbs``) the output's folder,
    known before a session starts: a format other than Parquet, what of the request Spark must
    apply, the output's Spark `options`, a bucket, or a cluster's executors (their own disks).
    A Spark Connect server's disk is asked when it runs (``_local_folder``)."""
    assert isinstance(connection, FilesConnection)
    done, does = verbs
    path = str(connection.path or "")
    if connection.format != "parquet":
        return f"{connection.format} files are {done} by Spark (pyarrow {does} Parquet only here)"
    if request_problem:
        return request_problem
    if connection.options:
        return f"the output's {'reader' if does == 'reads' else 'writer'} options are Spark's"
    if connection.bucket or (_SCHEME.match(path) and not path.startswith("file://")):
        return f"{path} is not a local folder (pyarrow {does} the local disk only)"
    if master_kind == "cluster":
        return (f"{path} is a folder of this machine, not of the cluster's executors that run "
                "the tasks")
    return None


class FilesConnector(BaseConnector):
    """Reads and writes a folder of Parquet/CSV/JSON/ORC files (see the module doc)."""

    connector_type = ConnectorType.FILES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[tuple[str, str], StructType] = {}
        # a local folder's Parquet files with their footers, read once per transfer (the
        # schema, the route's check and the move all ask; the files do not change under it)
        self._footers: dict[str, list[tuple[str, int, Footer]] | str] = {}

    @property
    def _files(self) -> FilesConnection:
        assert isinstance(self.connection, FilesConnection)
        return self.connection

    @property
    def format(self) -> str:
        return self.connection.format

    def root(self) -> str:
        """The output's folder as a URI Spark's Hadoop filesystem reads."""
        return files_root(self._files, self.bucket)

    def options(self) -> dict[str, str]:
        merged = dict(FORMAT_OPTIONS.get(self.format, {}))
        extra = self._files.options
        if not isinstance(extra, Mapping):
            raise ConfigError(
                f"`options` of files output `{self.connection.name}` must be a mapping of "
                "Spark options.",
                path=self.connection.source_file, key=f"{self.connection.name}.options",
            )
        merged.update({str(k): _option_text(v) for k, v in extra.items()})
        return merged

    def table_path(self, table: TableRef | None) -> str:
        root = self.root()
        if table is None:
            return root
        return join_path(root, table.schema or "", table.name)

    # -- read ------------------------------------------------------------------------------

    def plan_read(self, request: ReadRequest, *, reason: str = "") -> ReadPlan:
        if request.table is None:
            raise UsageError(
                f"files output `{self.connection.name}` is read with --table (a folder under "
                f"{self.connection.path}); --query needs a database."
            )
        source = self._find_source(request.table)
        options = self.options()
        notes = []
        if request.columns:
            options[SELECT_KEY] = json.dumps(list(request.columns))
        if request.partitions or request.partition_column:
            notes.append("Spark splits files by size itself; --partitions and "
                         "--partition-column do not apply to files")
        if self.format == "csv" and options.get("inferSchema", "false").lower() != "true":
            notes.append("CSV columns are read as text (set `options: {inferSchema: true}` "
                         "on the output to infer types, at the cost of a pass over the data)")
        columns = ", ".join(request.columns) if request.columns else "*"
        sql = f"SELECT {columns} FROM {self.format}.`{source}`"
        if request.where:
            sql += f" WHERE {request.where}"
        return ReadPlan(
            connector=self.connector_type,
            reason=reason or f"{self.format} files",
            source=source,
            sql=sql,
            partitions=(Partition(0, request.where),),
            options=options,
            notes=tuple(notes),
            split_by_spark=True,
        )

    def _find_source(self, table: TableRef) -> str:
        root = self.root()
        fs = file_system(self.spark, root)
        folder = self.table_path(table)
        candidates = [folder, f"{folder}.{self.format}"]
        last = root.rstrip("/").rsplit("/", 1)[-1]
        if table.schema is None and table.name in (last, last.rsplit(".", 1)[0]):
            candidates.append(root)
        for candidate in candidates:
            if fs.exists(candidate):
                return candidate
        available = fs.children(root) if fs.exists(root) else []
        shown = [c for c in available if not hidden(c)]
        raise SourceError(
            f"no {self.format} data for table `{table}` in files output "
            f"`{self.connection.name}`: none of {', '.join(candidates)} exists.",
            hint=("Tables there: " + ", ".join(shown[:20]) + ".") if shown
            else f"{root} is empty or missing.",
        )

    def read_schema(self, plan: ReadPlan) -> StructType:
        """A folder's schema, once per folder and reader options, not again for the route and
        the move (the files of one transfer do not change under it): read from a Parquet
        footer where :meth:`_footer_schema` can, else inferred by Spark (with a job)."""
        key = (plan.source, json.dumps(sorted(plan.options.items())))
        if key not in self._schemas:
            self._schemas[key] = self._footer_schema(plan) or self.load(plan).schema
        return self._schemas[key]

    def _parquet_footers(self, folder: str) -> list[tuple[str, int, Footer]] | str | None:
        """(path, bytes, footer) of ``folder``'s Parquet data files in path order, read once
        per connector (:func:`~.parquet_footer.read_footers`, no pyarrow in the driver for a
        small folder); None when the folder holds anything else (:func:`_parquet_files`); why,
        when a footer does not read (encrypted, damaged: Spark's reader then decides)."""
        if folder not in self._footers:
            files = _parquet_files(folder)
            if files is None:
                return None
            files.sort()
            try:
                footers = read_footers([path for path, _ in files])
            except (FooterError, OSError) as exc:
                self._footers[folder] = str(exc)
            else:
                self._footers[folder] = [
                    (path, size, footer)
                    for (path, size), footer in zip(files, footers, strict=True)]
        return self._footers[folder]

    def _footer_schema(self, plan: ReadPlan) -> StructType | None:
        """The schema Spark would infer for a local folder of Parquet files, from one footer,
        without the job Spark runs to read footers: the Spark schema the footer holds, where
        Spark or dvt-connect wrote it (:func:`_keyed_schema`, in Python), else made by Spark's
        own code in the driver's JVM (its footer reader, ``ParquetToSparkSchemaConverter`` set
        from the session as Spark's inference sets it, ``readSchemaFromFooter``, then nullable
        as Spark reads files): cold, about 0.8 s of a transfer's planning here (the job
        1.2-1.8 s against 0.4-0.8 s).

        Spark reads one file's footer too (a summary file first, else the first data file it
        lists), so this is taken only where every file's footer has the same schema, there is
        no summary file and no reader option, on a classic session (Spark Connect has no JVM
        here). Anything else, or any error here (another Spark version's signatures, a type
        Spark refuses), returns None and Spark infers the schema as before, raising its own
        error."""
        if self.format != "parquet":
            return None
        options = dict(plan.options)
        select = json.loads(options.pop(SELECT_KEY, "null") or "null")
        from dvt_connect.spark import is_connect

        folder = self._local_folder(plan.source or "")
        if options or folder is None or is_connect(self.spark):
            return None
        if any(os.path.exists(os.path.join(folder, summary))
               for summary in ("_metadata", "_common_metadata")):
            return None
        try:
            files = self._parquet_footers(folder)
            if not files or isinstance(files, str):
                return None
            footers = [footer for _, _, footer in files]
            first = footers[0]
            if any(f.schema != first.schema or f.metadata.get(SPARK_ROW_KEY)
                   != first.metadata.get(SPARK_ROW_KEY) for f in footers[1:]):
                return None
            schema = (_keyed_schema(first)
                      or _spark_footer_schema(self.spark, "file://" + files[0][0]))
        except Exception:  # noqa: BLE001 - Spark's own inference decides, and raises its error
            return None
        if select:
            by_name = {f.name: f for f in schema.fields}
            if not set(select) <= set(by_name):
                return None  # Spark resolves the names (case, errors) itself
            from pyspark.sql.types import StructType

            schema = StructType([by_name[name] for name in select])
        return schema

    def load(self, plan: ReadPlan) -> DataFrame:
        options = dict(plan.options)
        select = options.pop(SELECT_KEY, None)
        df = self.spark.read.format(self.format).options(**options).load(plan.source)
        if select:
            df = df.select(*json.loads(select))
        for partition in plan.partitions:
            if partition.predicate:
                df = df.where(partition.predicate)
        return df

    # -- Arrow end to end (pyarrow on local Parquet) ---------------------------------------

    def _local_folder(self, uri: str) -> str | None:
        """The local path of a ``file://`` location when Spark runs on this machine (a
        cluster's executors would write to their own disks)."""
        if not uri.startswith("file://"):
            return None
        from dvt_connect.spark import runs_here

        return uri[len("file://"):] if runs_here(self.spark) else None

    def connect_problem(self) -> str | None:
        return connect_problem(self.spark, self.root())

    @classmethod
    def arrow_read_problem(cls, connection: Connection, request: ReadRequest,
                           master_kind: str) -> str | None:
        return _pyarrow_problem(connection, master_kind, ("read", "reads"),
                                "a --where is applied by Spark"
                                if request.where else None)

    @classmethod
    def arrow_write_problem(cls, connection: Connection, request: WriteRequest,
                            master_kind: str) -> str | None:
        return _pyarrow_problem(connection, master_kind, ("written", "writes"),
                                "--partition-by is written by Spark"
                                if request.partition_by else None)

    def arrow_source(self, plan: ReadPlan) -> Any:
        from dvt_connect.connectors.arrow_bulk.direct import ParquetFacts, parquet_tasks

        folder = self._local_folder(plan.source or "")
        if folder is None:  # a Spark Connect server whose tasks do not run here
            return f"{plan.source} is not a local folder of this Spark session"
        files = self._parquet_footers(folder)
        if files is None:
            return f"{plan.source} has partition folders or non-Parquet files"
        if isinstance(files, str):
            return files
        if not files:
            return f"{plan.source} has no data files"
        names = self.read_schema(plan).names
        facts = []
        for path, size, footer in files:
            have = set(footer.columns)
            if not set(names) <= have:
                return f"{path} lacks column(s) {', '.join(sorted(set(names) - have))}"
            facts.append(ParquetFacts(path, size, footer.row_groups))
        from dvt_connect.spark import default_parallelism

        return parquet_tasks(facts, default_parallelism(self.spark))

    def arrow_sink_problem(self, request: WriteRequest,
                           schema: StructType | None) -> str | None:
        if self._local_folder(self.table_path(request.table)) is None:
            return "the target folder is not local to this Spark session"
        return None

    def write_arrow(self, source: Any, schema: StructType, request: WriteRequest) -> WriteOutcome:
        from dvt_connect.connectors.arrow_bulk.direct import ParquetSink, run_move

        self._check_types(schema)
        moved: list[Any] = []

        def save(stage: str) -> None:
            folder = self._local_folder(stage)
            assert folder is not None
            os.makedirs(folder)
            sink = ParquetSink(folder, uuid.uuid4().hex[:16], schema.json())
            moved.append(run_move(self.spark, source, sink, schema))

        outcome = self._locked_write(request, lambda: self._write_staged(request, save))
        rows = moved[-1].rows if moved else 0
        return WriteOutcome(outcome.bytes_written, outcome.location,
                            ("Parquet written by pyarrow in each Spark task",
                             *outcome.notes), high_water_mark=outcome.high_water_mark,
                            rows=rows)

    # -- write -----------------------------------------------------------------------------

    def _refuse_mode(self, request: WriteRequest) -> None:
        if request.merges or request.mode == "merge":
            raise UsageError(
                f"files output `{self.connection.name}` cannot merge by key: Parquet/CSV/JSON/ORC "
                "folders have no keys, and rewriting folders would not be an upsert.",
                hint="Use --mode incremental without --primary-key to append new rows as new "
                     "files, or --mode overwrite; merges into lakes need a table format (Delta, "
                     "Iceberg), planned in a later issue.")
        if request.mode == "backfill":
            raise UsageError(
                f"files output `{self.connection.name}` cannot replace a range of rows in "
                "place (that needs a table format such as Delta or Iceberg, a later issue).",
                hint="Use --mode overwrite to rewrite the folder.")
        if request.mode == "truncate":
            raise UsageError(
                f"--mode truncate keeps a database table's keys and grants; files output "
                f"`{self.connection.name}` has none: use --mode overwrite.")

    def describe_write(self, request: WriteRequest) -> list[str]:
        self._refuse_mode(request)
        lines = []
        if request.mode == "incremental":
            lines.append("incremental into files: the new rows are added as new files")
        lines.append("concurrent runs into this folder wait for its lock file "
                     f"(up to {request.lock_timeout:g} s)")
        return lines

    def high_water_mark(self, request: WriteRequest) -> Mark | None:
        """``MAX(update_key)`` over the folder's files, through Spark (timestamps as UTC)."""
        from pyspark.sql import functions as F

        self._refuse_mode(request)
        dest = self.table_path(request.table)
        if not file_system(self.spark, dest).exists(dest):
            return None
        assert request.update_key is not None
        df = self.spark.read.format(self.format).options(**self.options()).load(dest)
        names = {c.lower(): c for c in df.columns}
        column = names.get(request.update_key.lower())
        if column is None:
            raise UsageError(f"--update-key `{request.update_key}` is not a column of {dest} "
                             f"(it has {', '.join(df.columns)}).")
        row = df.agg(F.max(F.col("`" + column.replace("`", "``") + "`"))).first()
        return mark_of(row[0] if row is not None else None, column)

    def count_nulls(self, request: ReadRequest, column: str) -> int | None:
        from pyspark.sql import functions as F

        df = self.load(self.plan_read(request))
        return int(df.where(F.col("`" + column.replace("`", "``") + "`").isNull()).count())

    def lock_path(self, table: TableRef | None) -> str:
        """The folder whose lock file concurrent runs wait for."""
        return self.table_path(table)

    def write_dataframe(self, df: DataFrame, request: WriteRequest) -> WriteOutcome:
        return self._locked_write(request, lambda: self._write(df, request))

    def _locked_write(self, request: WriteRequest,
                      write: Callable[[], WriteOutcome]) -> WriteOutcome:
        """``write`` under the folder's lock, with the incremental checks around it."""
        self._refuse_mode(request)
        dest = self.lock_path(request.table)
        with self._lock(dest, request.lock_timeout):
            if request.planned:
                now = self.high_water_mark(request)
                if now != request.high_water_mark:
                    raise TransferError(
                        f"{dest} changed while this run waited for it: its high-water mark "
                        f"moved from {request.high_water_mark or 'nothing'} to "
                        f"{now or 'nothing'}. Appending what this run read would load rows "
                        "twice; nothing was written.", hint="Run it again.")
            outcome = write()
            if request.update_key:
                outcome = dataclasses.replace(outcome,
                                              high_water_mark=self.high_water_mark(request))
            return outcome

    @contextlib.contextmanager
    def _lock(self, dest: str, timeout: float, *, poll: float = 0.5) -> Iterator[None]:
        """A lock file next to the folder, created only if absent (``create_new``), deleted
        afterwards. A lock left by a run that was killed hard on this machine (its process is
        gone) is taken over (:func:`stale_lock_owner`); any other is waited for."""
        parent, _, name = dest.rstrip("/").rpartition("/")
        path = join_path(parent, f".{name}.dvt-lock")
        fs = file_system(self.spark, dest)
        fs.mkdirs(parent)
        deadline = time.monotonic() + timeout
        told = False
        while not fs.create_new(path, lock_owner()):
            if self._take_over(fs, path):
                continue
            if time.monotonic() >= deadline:
                raise TransferError(
                    f"another dvt run is writing {dest} (lock file {path}); gave up after "
                    f"waiting {timeout:g} s. Nothing was written.",
                    hint="Let the other run finish, or wait longer with --lock-timeout; if no "
                         "run is left (one was killed on another machine), delete the lock "
                         "file.")
            if not told and self.console is not None:
                self.console.warn(f"another dvt run is writing {dest}; waiting up to "
                                  f"{timeout:g} s for its lock file {path}")
                told = True
            time.sleep(poll)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                fs.delete(path)

    def _take_over(self, fs: Any, path: str) -> bool:
        """Delete ``path`` if the run that wrote it is gone; True when it was deleted. Runs
        taking over one lock file take turns (a ``.takeover`` file made the same way), and each
        deletes the lock only if it still holds what it read: never a live run's lock."""
        text = fs.read_text(path)
        if text is None or stale_lock_owner(text) is None:
            return False
        turn = f"{path}.takeover"
        if not fs.create_new(turn, lock_owner()):
            return False  # another run is taking it over
        try:
            if fs.read_text(path) != text:
                return False
            fs.delete(path)
        finally:
            fs.delete(turn)
        if self.console is not None:
            self.console.warn(f"took over the lock file {path}: the dvt run that made it "
                              f"({text.strip()}) is gone")
        return True

    def _write(self, df: DataFrame, request: WriteRequest) -> WriteOutcome:
        self._check_types(df.schema)
        missing = [c for c in request.partition_by if c not in df.columns]
        if missing:
            raise UsageError(
                "--partition-by names column(s) the data does not have: "
                + ", ".join(f"`{m}`" for m in missing) + "; columns: "
                + ", ".join(df.columns) + "."
            )

        def save(stage: str) -> None:
            writer = df.write.format(self.format).options(**self.options()).mode("error")
            if request.partition_by:
                writer = writer.partitionBy(*request.partition_by)
            writer.save(stage)

        return self._write_staged(request, save)

    def _write_staged(self, request: WriteRequest, save: Callable[[str], None]) -> WriteOutcome:
        """``save`` the rows into a staging folder, then swap it in or move its files in."""
        dest = self.table_path(request.table)
        parent, _, name = dest.rstrip("/").rpartition("/")
        if not name or parent.endswith(":/") or parent.endswith(":"):
            raise UsageError(f"cannot write files to the root of {dest}; use a folder.")
        token = side_token()
        stage = join_path(parent, f".{name}{STAGE_MARK}{token}")
        old = join_path(parent, f".{name}{OLD_MARK}{token}")
        fs = file_system(self.spark, dest)
        area = StagingArea(self.spark, self.console)
        area.add(stage)
        notes: list[str] = []
        try:
            save(stage)
            files = fs.data_files(stage)
            written = sum(size for _, size in files)
            exists = fs.exists(dest)
            if request.mode in ("append", "incremental") and exists:
                self._move_files(fs, stage, dest, files)
                notes.append(f"appended {len(files)} file(s) to {dest}")
            else:
                self._swap(fs, stage, dest, old, replace=exists)
                notes.append(
                    (f"replaced {dest}" if exists else f"created {dest}")
                    + f" ({len(files)} {self.format} file(s))"
                )
                if exists and request.partition_by:
                    notes.append("overwrite replaced the whole folder, not only the "
                                 "partitions written")
        finally:
            area.cleanup()  # gone already after a swap; warned, never raised, otherwise
        notes.append("retry-safe: a failed Spark job leaves the target unchanged")
        return WriteOutcome(bytes_written=written, location=dest, notes=tuple(notes))

    def _check_types(self, schema: StructType) -> None:
        banned = UNSUPPORTED_TYPES.get(self.format, ())
        bad = [f"`{f.name}` ({f.dataType.simpleString()})" for f in schema.fields
               if f.dataType.typeName() in banned]
        if bad:
            raise TransferError(
                f"{self.format.upper()} files cannot hold column(s) " + ", ".join(bad) + ".",
                hint="Use format parquet (or orc/json), or convert those columns in the query.",
            )

    def _swap(self, fs: HadoopFS | LocalFS, stage: str, dest: str, old: str, *,
              replace: bool) -> None:
        """Rename the staged folder into place; the old folder is moved aside first and put
        back if the second rename fails. (Two renames: between them the folder is briefly
        absent; on object stores such as S3 a folder rename is a copy.)"""
        if not replace:
            fs.mkdirs(dest.rsplit("/", 1)[0])
            fs.rename(stage, dest)
            return
        fs.rename(dest, old)
        try:
            fs.rename(stage, dest)
        except BaseException:
            fs.rename(old, dest)
            raise
        try:
            fs.delete(old)
        except Exception:  # the new data is in place; only the old copy is left over
            if self.console is not None:
                self.console.warn(f"the previous folder, moved to {old}, could not be "
                                  "deleted; delete it by hand")

    @staticmethod
    def _move_files(fs: HadoopFS | LocalFS, stage: str, dest: str,
                    files: list[tuple[str, int]]) -> None:
        """Move the staged data files into ``dest``; if one move fails, the ones already moved
        are deleted again, so the target is as it was."""
        moved: list[str] = []
        try:
            for relative, _ in files:
                target = join_path(dest, relative)
                if fs.exists(target):
                    raise TransferError(f"cannot append: {target} already exists.")
                fs.mkdirs(target.rsplit("/", 1)[0])
                fs.rename(join_path(stage, relative), target)
                moved.append(target)
        except BaseException:
            for target in moved:
                fs.delete(target)
            raise


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _keyed_schema(footer: Footer) -> StructType | None:
    """The schema Spark's inference takes from a footer that holds Spark's own (written by
    Spark, or by :class:`~.arrow_bulk.direct.ParquetSink`): the JSON under
    :data:`SPARK_ROW_KEY`, then nullable, as ``readSchemaFromFooter`` and the read make it, in
    Python (no JVM call: cold, the JVM's footer reader and converter cost 0.3 s of planning).
    None without the key or where Python cannot parse it as a struct: the JVM then decides (its
    parser for Spark 1's schema strings, or the Parquet schema)."""
    from pyspark.sql.types import StructType

    text = footer.metadata.get(SPARK_ROW_KEY)
    if not text:
        return None
    try:
        parsed = StructType.fromJson(json.loads(text))
    except Exception:  # noqa: BLE001 - not JSON Python reads: the JVM's parsers decide
        return None
    return _as_nullable(parsed) if isinstance(parsed, StructType) else None


def _as_nullable(data_type: Any) -> Any:
    """``data_type`` with every field, array element and map value nullable, nested ones
    included (Spark's ``asNullable``, which keeps fields' metadata)."""
    from pyspark.sql import types as t

    if isinstance(data_type, t.StructType):
        return t.StructType([t.StructField(f.name, _as_nullable(f.dataType), True, f.metadata)
                             for f in data_type.fields])
    if isinstance(data_type, t.ArrayType):
        return t.ArrayType(_as_nullable(data_type.elementType), True)
    if isinstance(data_type, t.MapType):
        return t.MapType(_as_nullable(data_type.keyType), _as_nullable(data_type.valueType),
                         True)
    return data_type


def _spark_footer_schema(spark: Any, uri: str) -> StructType:
    """Spark's schema of the Parquet file at ``uri``, as its schema inference makes it from that
    file's footer (Spark 4: the converter's arguments as ``mergeSchemasInParallel`` passes them,
    the options it leaves at their defaults included), then nullable as every file read is."""
    from pyspark.sql.types import StructType

    jvm, session = spark._jvm, spark._jsparkSession
    path = jvm.org.apache.hadoop.fs.Path(uri)
    footer = jvm.org.apache.parquet.hadoop.Footer(
        path, jvm.org.apache.parquet.hadoop.ParquetFileReader.readFooter(
            session.sessionState().newHadoopConf(), path))
    conf = session.sessionState().conf()
    parquet = jvm.org.apache.spark.sql.execution.datasources.parquet
    converter_class = parquet.ParquetToSparkSchemaConverter

    def default(n: int) -> bool:
        return bool(getattr(converter_class, f"$lessinit$greater$default${n}")())

    converter = converter_class(
        conf.isParquetBinaryAsString(), conf.isParquetINT96AsTimestamp(), default(3),
        conf.parquetInferTimestampNTZEnabled(), conf.legacyParquetNanosAsLong(),
        conf.timestampNanosTypesEnabled(), default(7), default(8),
        conf.parquetReaderRespectUnknownTypeAnnotation())
    found = parquet.ParquetFileFormat.readSchemaFromFooter(footer, converter)
    return StructType.fromJson(json.loads(found.asNullable().json()))


def warm_footer_reader(spark: Any, folder: str) -> StructType:
    """Read the schema of a small Parquet file written into ``folder`` as a local folder's
    schema is read (:func:`_spark_footer_schema`): the warm server runs it once before it
    answers, so its first Parquet source does not load and compile that code on a client's
    clock (0.38 s of the first read's schema, then 0.03 s, measured here)."""
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(folder, "warm-up.parquet")
    pq.write_table(pa.table({
        "id": pa.array([1], pa.int64()), "name": pa.array(["a"], pa.string()),
        "amount": pa.array([decimal.Decimal("1.50")], pa.decimal128(12, 2)),
        "at": pa.array([datetime.datetime(2026, 1, 1)], pa.timestamp("us", tz="UTC")),
        "day": pa.array([datetime.date(2026, 1, 1)], pa.date32()),
        "ratio": pa.array([0.5], pa.float64()), "flag": pa.array([True], pa.bool_()),
    }), path)
    return _spark_footer_schema(spark, "file://" + path)


def _parquet_files(folder: str) -> list[tuple[str, int]] | None:
    """(path, bytes) of the Parquet data files in ``folder`` (hidden and ``_`` names skipped),
    or None when it holds anything else (partition folders, other files)."""
    if os.path.isfile(folder):
        return [(folder, os.path.getsize(folder))] if folder.endswith(".parquet") else None
    found = []
    for entry in os.scandir(folder):
        if hidden(entry.name):
            continue
        if entry.is_dir() or not entry.name.endswith(".parquet"):
            return None
        found.append((entry.path, entry.stat().st_size))
    return found


_OWNER = re.compile(r"pid (\d+) on (\S+) \(pid namespace (\S+)\)")


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")  # e.g. pid:[4026531836]
    except OSError:
        return "-"


def lock_owner() -> str:
    """What a lock file says about the run that holds it: its PID, host and PID namespace (two
    containers can share a host name, not a PID namespace)."""
    return f"pid {os.getpid()} on {socket.gethostname()} (pid namespace {_pid_namespace()})"


def stale_lock_owner(text: str) -> int | None:
    """The PID of a lock file's run when that run is gone: written on this host, in this PID
    namespace, by a process that no longer exists (or is a zombie). None for a live run, for
    another machine's, and for a lock this cannot tell about (an earlier version's)."""
    found = _OWNER.fullmatch(text.strip())
    if found is None or (found.group(2), found.group(3)) != (socket.gethostname(),
                                                             _pid_namespace()):
        return None
    pid = int(found.group(1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return pid
    except PermissionError:  # another user's live process
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return pid if state == "Z" else None
