"""Delta Lake and Apache Iceberg tables: ``type: files`` outputs with ``format: delta|iceberg``.

A Delta table is a folder: ``--table events`` is ``<path>/events`` (``raw.events``:
``<path>/raw/events``), reached as ``delta.`<folder>```. An Iceberg table lives in a catalog the
output names under ``catalog:`` (default: a Hadoop catalog whose warehouse is ``path``), reached
as ``dvt_<output>.<namespace>.<table>`` (namespace ``default`` when none is given).

Every write is one commit of the table format, so a failed Spark job commits nothing and the
previous version (Delta) or snapshot (Iceberg) stays current:

- ``overwrite`` replaces the table, schema and partitioning included (Delta: overwrite with
  ``overwriteSchema``; Iceberg: ``CREATE OR REPLACE``); the history is kept.
- ``append`` adds the rows; ``truncate`` replaces every row and keeps the table (its schema,
  partitioning and properties).
- ``merge`` is ``MERGE INTO`` on ``--primary-key``; ``incremental`` reads past the table's
  ``MAX(--update-key)`` and merges those rows (appends them without a key).
- ``backfill`` replaces the rows whose ``--update-key`` is in ``--range`` with the source's rows
  of that range: Delta's ``replaceWhere`` overwrite; Iceberg one ``MERGE INTO`` that inserts the
  rows read and deletes the table's rows of the range (``WHEN NOT MATCHED BY SOURCE``), since
  Iceberg's overwrite by filter refuses a filter that splits a data file.

A source column the table lacks is refused unless ``--schema-evolution add``, which adds it
(``ALTER TABLE ... ADD COLUMNS``, a metadata commit of its own before the data commit); columns
are never dropped or narrowed. Stats come from the commit: files, bytes and rows added, and for a
merge the rows inserted and updated.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvt_connect.connectors.base import (
    ConnectorType,
    Partition,
    ReadPlan,
    ReadRequest,
    TableRef,
    WriteOutcome,
    WriteRequest,
)
from dvt_connect.connectors.files import FilesConnector, join_path
from dvt_connect.connectors.filesystem import HadoopFS
from dvt_connect.databases.files import catalog_name
from dvt_connect.errors import SourceError, UsageError
from dvt_connect.incremental import Mark, mark_of, parse_range, range_predicate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

AS_OF_KEY = "dvt.as_of"


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Commit:
    """What one commit of the table format says it did."""

    version: str  # Delta's version, Iceberg's snapshot id
    operation: str
    files_added: int | None = None
    bytes_added: int | None = None
    rows_added: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None

    def describe(self, fmt: str) -> str:
        what = "version" if fmt == "delta" else "snapshot"
        parts = [f"{n} {label}" for n, label in (
            (self.files_added, "file(s)"), (self.bytes_added, "bytes"),
            (self.rows_added, "row(s)")) if n is not None]
        return (f"{fmt} commit: {what} {self.version} ({self.operation})"
                + (", added " + ", ".join(parts) if parts else ""))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class LakehouseConnector(FilesConnector):
    """Reads and writes Delta and Iceberg tables through their Spark runtimes (module doc)."""

    connector_type = ConnectorType.LAKEHOUSE

    def connect_problem(self) -> str | None:
        return (f"{self.format} tables need their runtime's SQL extensions and catalog, which "
                "are set when a session starts (the Spark Connect server's own settings, not "
                "dvt's), and dvt checks their commits through Spark's driver JVM")

    # -- where a table is ------------------------------------------------------------------

    @property
    def is_delta(self) -> bool:
        return self.format == "delta"

    def catalog(self) -> str:
        """Configure the output's Iceberg catalog on the running session (catalogs, unlike
        extensions, are read when first used; secrets stay off the JVM's command line)."""
        name = catalog_name(self.connection.name)
        settings: dict[str, str] = {"type": "hadoop"}
        settings.update({str(k): _text(v) for k, v in self._files.catalog.items()})
        if settings["type"].lower() in ("hadoop", "jdbc"):  # a REST catalog names its own
            settings.setdefault("warehouse", self.root())
        if settings["type"].lower() == "jdbc":
            # Spark 4's Iceberg catalog looks up views too, which a JDBC catalog refuses on its
            # V0 schema ("initialized without view support"); V1 adds them (Iceberg migrates an
            # existing catalog's tables by one column)
            settings.setdefault("jdbc.schema-version", "V1")
        conf = self.spark.conf
        conf.set(f"spark.sql.catalog.{name}", "org.apache.iceberg.spark.SparkCatalog")
        for key, value in settings.items():
            conf.set(f"spark.sql.catalog.{name}.{key}", value)
        return name

    def namespace(self, table: TableRef) -> str:
        return table.schema or "default"

    def identifier(self, table: TableRef | None) -> str:
        """The table as Spark SQL names it."""
        if table is None:
            raise UsageError(f"{self.format} output `{self.connection.name}` needs a table "
                             "name (--table / --target-table).")
        if self.is_delta:
            return f"delta.{quote(self.table_path(table))}"
        return ".".join(quote(p) for p in (self.catalog(), self.namespace(table), table.name))

    def lock_path(self, table: TableRef | None) -> str:
        """The folder the lock file sits beside: the table's own (Hadoop catalog layout), in
        the output's ``path`` whatever the catalog (a REST catalog's tables are elsewhere)."""
        if self.is_delta or table is None:
            return self.table_path(table)
        return join_path(self.root(), self.namespace(table), table.name)

    def exists(self, table: TableRef | None) -> bool:
        if self.is_delta:
            path = self.table_path(table)
            return HadoopFS(self.spark, path).exists(join_path(path, "_delta_log"))
        assert table is not None
        return bool(self.spark.catalog.tableExists(self.identifier(table)))

    def _table(self, table: TableRef | None) -> DataFrame:
        return self.spark.table(self.identifier(table))

    # -- read ------------------------------------------------------------------------------

    def plan_read(self, request: ReadRequest, *, reason: str = "") -> ReadPlan:
        if request.table is None:
            raise UsageError(f"{self.format} output `{self.connection.name}` is read with "
                             "--table; --query needs a database.")
        ident = self.identifier(request.table)
        if not self.exists(request.table):
            where = self.table_path(request.table) if self.is_delta else ident
            raise SourceError(f"no {self.format} table `{request.table}` in output "
                              f"`{self.connection.name}` ({where}).")
        columns = ", ".join(quote(c) for c in request.columns) if request.columns else "*"
        sql = f"SELECT {columns} FROM {ident}{as_of_clause(request.as_of)}"
        if request.where:
            sql += f" WHERE {request.where}"
        notes = []
        if request.partitions or request.partition_column:
            notes.append(f"Spark splits a {self.format} table by its files; --partitions and "
                         "--partition-column do not apply")
        return ReadPlan(connector=self.connector_type,
                        reason=reason or f"{self.format} table",
                        source=ident, sql=sql, partitions=(Partition(0, None),),
                        notes=tuple(notes))

    def load(self, plan: ReadPlan) -> DataFrame:
        assert plan.sql is not None
        return self.spark.sql(plan.sql)

    def count_nulls(self, request: ReadRequest, column: str) -> int | None:
        from pyspark.sql import functions as F

        df = self.load(self.plan_read(request))
        return int(df.where(F.col(quote(column)).isNull()).count())

    # -- write -----------------------------------------------------------------------------

    def _refuse_mode(self, request: WriteRequest) -> None:
        """Every mode commits through the table format."""

    def describe_write(self, request: WriteRequest) -> list[str]:
        what = {
            "overwrite": "replaces the table (schema and partitioning too) in one commit",
            "append": "adds the rows in one commit",
            "truncate": "replaces every row, keeping the table, in one commit",
            "merge": "MERGE INTO on " + ", ".join(request.primary_key) + ", one commit",
            "incremental": "rows past the table's MAX(" + str(request.update_key) + ") "
                           + ("merged on " + ", ".join(request.primary_key)
                              if request.primary_key else "appended") + ", one commit",
            "backfill": f"the rows with {request.update_key} in {request.range} replaced by "
                        "the source's, one commit ("
                        + ("replaceWhere" if self.is_delta else "MERGE INTO deleting the "
                           "range and inserting the rows read") + ")",
        }[request.mode]
        return [f"{self.format}: {what}; a failed run commits nothing",
                "concurrent dvt runs into this table wait for its lock file "
                f"(up to {request.lock_timeout:g} s)"]

    def high_water_mark(self, request: WriteRequest) -> Mark | None:
        from pyspark.sql import functions as F

        if not self.exists(request.table):
            return None
        assert request.update_key is not None
        df = self._table(request.table)
        column = {c.lower(): c for c in df.columns}.get(request.update_key.lower())
        if column is None:
            raise UsageError(f"--update-key `{request.update_key}` is not a column of "
                             f"{self.identifier(request.table)} (it has "
                             f"{', '.join(df.columns)}).")
        row = df.agg(F.max(F.col(quote(column)))).first()
        return mark_of(row[0] if row is not None else None, column)

    def _write(self, df: DataFrame, request: WriteRequest) -> WriteOutcome:
        missing = [c for c in request.partition_by if c not in df.columns]
        if missing:
            raise UsageError("--partition-by names column(s) the data does not have: "
                             + ", ".join(f"`{m}`" for m in missing) + "; columns: "
                             + ", ".join(df.columns) + ".")
        table = request.table
        ident = self.identifier(table)
        exists = self.exists(table)
        before = self.last_commit(table) if exists else None
        notes: list[str] = []
        if exists and request.mode != "overwrite":
            notes += self._evolve(df, request)
            df = self._align(df, table)
        keyed = request.mode == "merge" or (request.mode == "incremental"
                                            and bool(request.primary_key))
        if not exists or request.mode == "overwrite":
            self._replace(df, request)
        elif keyed:
            self._merge(df, request)
        elif request.mode == "backfill":
            self._backfill(df, request)
        elif request.mode == "truncate":
            if self.is_delta:
                (df.write.format("delta").mode("overwrite")
                 .option("partitionOverwriteMode", "static").save(self.table_path(table)))
            else:
                from pyspark.sql import functions as F

                df.writeTo(ident).overwrite(F.lit(True))
        elif self.is_delta:
            df.write.format("delta").mode("append").save(self.table_path(table))
        else:
            df.writeTo(ident).append()
        after = self.last_commit(table)
        if after is None or (before is not None and after.version == before.version):
            notes.append(f"{self.format}: nothing was committed (no rows)")
            return WriteOutcome(bytes_written=0, location=ident, notes=tuple(notes),
                                inserted=0 if keyed else None, updated=0 if keyed else None)
        notes.append(after.describe(self.format))
        if not exists:
            notes.append(f"created {ident}")
        return WriteOutcome(bytes_written=after.bytes_added, location=ident, notes=tuple(notes),
                            inserted=after.rows_inserted if keyed else None,
                            updated=after.rows_updated if keyed else None)

    def _replace(self, df: DataFrame, request: WriteRequest) -> None:
        if self.is_delta:
            # static: the session's dynamic partition overwrite would keep other partitions
            writer = (df.write.format("delta").mode("overwrite")
                      .option("partitionOverwriteMode", "static")
                      .option("overwriteSchema", "true"))
            if request.partition_by:
                writer = writer.partitionBy(*request.partition_by)
            writer.save(self.table_path(request.table))
            return
        assert request.table is not None
        self.spark.sql(f"CREATE NAMESPACE IF NOT EXISTS "
                       f"{quote(self.catalog())}.{quote(self.namespace(request.table))}")
        v2 = df.writeTo(self.identifier(request.table)).using("iceberg")
        if request.partition_by:
            from pyspark.sql import functions as F

            v2 = v2.partitionedBy(*(F.col(quote(c)) for c in request.partition_by))
        v2.createOrReplace()

    def _merge(self, df: DataFrame, request: WriteRequest) -> None:
        view = f"dvt_merge_source_{secrets.token_hex(4)}"
        df.createOrReplaceTempView(view)
        on = " AND ".join(f"t.{quote(k)} <=> s.{quote(k)}" for k in request.primary_key)
        try:
            self.spark.sql(f"MERGE INTO {self.identifier(request.table)} t USING {view} s "
                           f"ON {on} WHEN MATCHED THEN UPDATE SET * "
                           "WHEN NOT MATCHED THEN INSERT *")
        finally:
            self.spark.catalog.dropTempView(view)

    def _backfill(self, df: DataFrame, request: WriteRequest) -> None:
        """Replace the table's rows of ``--range`` with ``df`` (the source's rows of it)."""
        assert request.update_key is not None and request.range is not None
        columns = {c.lower(): c for c in df.columns}
        column = columns.get(request.update_key.lower())
        if column is None:
            raise UsageError(f"--update-key `{request.update_key}` is not a column of "
                             f"{self.identifier(request.table)} (it has "
                             f"{', '.join(df.columns)}).")
        low, high = parse_range(request.range)
        predicate = range_predicate(column, low, high, self.connection.facts, spark_sql=True)
        if self.is_delta:
            # replaceWhere checks every written row lies in the range, and commits once
            (df.write.format("delta").mode("overwrite")
             .option("partitionOverwriteMode", "static").option("replaceWhere", predicate)
             .save(self.table_path(request.table)))
            return
        # Iceberg's copy-on-write MERGE plans a second scan of the source to find the files to
        # rewrite: read the source once (its rows counted once, one consistent read) and MERGE
        # from that copy
        df = df.localCheckpoint(eager=True)
        view = f"dvt_backfill_source_{secrets.token_hex(4)}"
        df.createOrReplaceTempView(view)
        try:
            self.spark.sql(f"MERGE INTO {self.identifier(request.table)} t USING {view} s "
                           "ON false WHEN NOT MATCHED THEN INSERT * "
                           f"WHEN NOT MATCHED BY SOURCE AND {predicate} THEN DELETE")
        finally:
            self.spark.catalog.dropTempView(view)

    def _evolve(self, df: DataFrame, request: WriteRequest) -> list[str]:
        """Source columns the table lacks: an error naming them, or with ``--schema-evolution
        add`` added as nullable columns. Never drops or narrows."""
        current = {f.name.lower() for f in self._table(request.table).schema.fields}
        new = [f for f in df.schema.fields if f.name.lower() not in current]
        if not new:
            return []
        names = ", ".join(f"`{f.name}` ({f.dataType.simpleString()})" for f in new)
        ident = self.identifier(request.table)
        if request.schema_evolution != "add":
            raise UsageError(
                f"the source has column(s) {ident} does not: {names}. Nothing was written.",
                hint="Run with --schema-evolution add to add them to the table (existing rows "
                     "get NULL), or leave them out with --columns.")
        columns = ", ".join(f"{quote(f.name)} {f.dataType.simpleString()}" for f in new)
        self.spark.sql(f"ALTER TABLE {ident} ADD COLUMNS ({columns})")
        return [f"--schema-evolution add: added {names} to {ident}"]

    def _align(self, df: DataFrame, table: TableRef | None) -> DataFrame:
        """The source's columns in the table's order (a table column the source lacks is
        NULL), so appends and MERGE's ``INSERT *`` match by name."""
        from pyspark.sql import functions as F

        have = {c.lower(): c for c in df.columns}
        out = []
        for field in self._table(table).schema.fields:
            name = have.get(field.name.lower())
            out.append(F.col(quote(name)).alias(field.name) if name is not None
                       else F.lit(None).cast(field.dataType).alias(field.name))
        return df.select(*out)

    # -- the table's history ---------------------------------------------------------------

    def last_commit(self, table: TableRef | None) -> Commit | None:
        """The newest commit, with the metrics the format recorded for it."""
        ident = self.identifier(table)
        if self.is_delta:
            rows = self.spark.sql(f"DESCRIBE HISTORY {ident} LIMIT 1").collect()
            if not rows:
                return None
            row = rows[0]
            m: Mapping[str, str] = row["operationMetrics"] or {}
            return Commit(
                version=str(row["version"]), operation=str(row["operation"]),
                files_added=_int(m.get("numFiles", m.get("numTargetFilesAdded",
                                                         m.get("numAddedFiles")))),
                bytes_added=_int(m.get("numOutputBytes", m.get("numTargetBytesAdded",
                                                               m.get("numAddedBytes")))),
                rows_added=_int(m.get("numOutputRows")),
                rows_inserted=_int(m.get("numTargetRowsInserted")),
                rows_updated=_int(m.get("numTargetRowsUpdated")))
        rows = self.spark.sql(f"SELECT snapshot_id, operation, summary FROM {ident}.snapshots "
                              "ORDER BY committed_at DESC LIMIT 1").collect()
        if not rows:
            return None
        row = rows[0]
        s: Mapping[str, str] = row["summary"] or {}
        added = _int(s.get("added-records"))
        deleted = _int(s.get("deleted-records")) or 0
        return Commit(
            version=str(row["snapshot_id"]), operation=str(row["operation"]),
            files_added=_int(s.get("added-data-files")),
            bytes_added=_int(s.get("added-files-size")), rows_added=added,
            # a copy-on-write MERGE rewrites whole files: the records deleted and added count
            # the rows carried over too, so only their difference (the new rows) is exact
            rows_inserted=(added - deleted) if added is not None else None)


def as_of_clause(as_of: str | None) -> str:
    """``VERSION AS OF`` for a number (Delta version, Iceberg snapshot id), else
    ``TIMESTAMP AS OF`` (both formats take both)."""
    if not as_of:
        return ""
    text = as_of.strip()
    if text.isdigit():
        return f" VERSION AS OF {text}"
    return " TIMESTAMP AS OF '" + text.replace("'", "''") + "'"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
