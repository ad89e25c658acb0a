"""The stage-native connector: the warehouse unloads Parquet to the bucket and Spark reads it;
Spark writes Parquet to the bucket and the warehouse loads it into a staging table that the
core's staged write swaps in (:func:`~dvt_connect.connectors.staging.staged_write`).

Each plan stages under its own ``dvt/<run id>/`` folder of the bucket, held by the connector's
:class:`~dvt_connect.connectors.filesystem.StagingArea` and deleted after the action whatever
happened. Column types come from the warehouse (``describe``) and travel through the
warehouse's unload contract (``StageFacts.types``): exact, or refused before anything moves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import (
    BaseConnector,
    ConnectorType,
    Partition,
    ReadPlan,
    ReadRequest,
    WriteOutcome,
    WriteRequest,
)
from dvt_connect.connectors.filesystem import HadoopFS, StagingArea
from dvt_connect.connectors.jdbc.errors import java_chain
from dvt_connect.connectors.native import STAGING_ROOT, new_run_id, select_sql
from dvt_connect.connectors.stage_native.executor import LoadJobSql, WarehouseSql, open_sql
from dvt_connect.connectors.stage_native.sql import (
    Auth,
    auth_clause,
    load_statement,
    unload_statement,
    warehouse_uri,
)
from dvt_connect.connectors.staging import Stage, staged_write
from dvt_connect.connectors.typeplan import SourceType
from dvt_connect.databases.spec import Database, StageFacts
from dvt_connect.errors import ConfigError, TransferError, UsageError
from dvt_connect.secrets import redact

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from dvt_connect.console import Console

# Spark's default Parquet timestamps (INT96) are not what warehouses load as timestamps
TIMESTAMP_CONF = "spark.sql.parquet.outputTimestampType"


@dataclass(frozen=True)
class StageReadPlan(ReadPlan):
    """A read through the warehouse's unload: the folder, the statement as shown (credentials
    masked) and the query's column types as the warehouse describes them."""

    staged: str = ""
    unload_sql: str = ""
    source_types: tuple[SourceType, ...] = ()

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        described["statements"] = [self.unload_sql]
        return described


class StageNativeConnector(BaseConnector):
    """One warehouse's stage-native path; the warehouse is data (``facts.stage``)."""

    writes_our_ddl = True
    transient_sqlstates: tuple[str, ...] = ("08", "40001", "57P01")

    def describe_write(self, request: WriteRequest) -> list[str]:
        """The stage-native load writes overwrite and append; the keyed and truncating modes
        go through the staged JDBC write, which has every mode."""
        if request.mode not in ("overwrite", "append"):
            raise UsageError(
                f"--mode {request.mode} into {self.connection.type} output "
                f"`{self.connection.name}`: its stage-native load writes overwrite and append "
                "only.", hint="Add --connector jdbc to write through our staged JDBC write, "
                              "which has every mode.")
        return []

    def __init__(self, spark: SparkSession, connection: Connection, *,
                 bucket: Bucket | None = None, console: Console | None = None) -> None:
        super().__init__(spark, connection, bucket=bucket, console=console)
        stage = connection.facts.stage
        if stage is None:
            raise ConfigError(f"`{connection.type}` has no stage-native path.",
                              path=connection.source_file, key=connection.name)
        if bucket is None:
            raise ConfigError(
                f"the stage-native path for {connection.facts.title} needs a "
                f"{' or '.join(stage.bucket_types)} bucket, and none was given.",
                hint="Add one to buckets.yml (`dvt init` writes a template).")
        self.stage: StageFacts = stage
        self.bucket_: Bucket = bucket
        self.staging_area = StagingArea(spark, self.console)
        self.open_sql: Callable[[], WarehouseSql] = lambda: open_sql(spark, connection)
        self._unloads = 0

    # -- what the warehouse is told -------------------------------------------------------------
    def new_folder(self) -> str:
        """A new ``dvt/<run id>/`` folder in the bucket (Spark's spelling), deleted afterwards."""
        folder = self.bucket_.spark_path(f"{STAGING_ROOT}/{new_run_id()}").rstrip("/") + "/"
        return str(self.staging_area.add(folder))

    @property
    def staged_folders(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self.staging_area.paths)

    def auth(self) -> Auth:
        return auth_clause(self.stage, self.bucket_, self.connection)

    def uri(self, folder: str) -> str:
        return warehouse_uri(self.stage, self.bucket_, folder)

    def type_facts(self) -> Database:
        return dataclasses.replace(self.facts, types=self.stage.types)

    # -- read -------------------------------------------------------------------------------------
    def plan_read(self, request: ReadRequest, *, reason: str = "") -> ReadPlan:
        select = request.query if request.query is not None else select_sql(self.connection,
                                                                              request)
        folder = self.new_folder()
        auth = self.auth()
        shown = unload_statement(self.stage, select, self.uri(folder), auth).shown
        db = self.open_sql()
        try:
            types = tuple(db.describe(select))
        finally:
            db.close()
        ignored = [flag for flag, value in (("--partitions", request.partitions),
                                            ("--partition-column", request.partition_column),
                                            ("--fetch-size", request.fetch_size))
                   if value is not None]
        split = (f"{self.facts.title}'s unload decides how the rows are split into files; "
                 "Spark reads them in parallel")
        if ignored:
            split += f" ({', '.join(ignored)} ignored)"
        return StageReadPlan(
            connector=self.connector_type, reason=reason,
            source=str(request.table) if request.table else "query", sql=select,
            partitions=(Partition(index=0, predicate=None),), bucket=self.bucket_,
            notes=(f"{self.facts.title} unloads the rows as Parquet {auth.how}: {shown}",
                   f"Spark reads {folder} through the Hadoop filesystem jar; the folder is "
                   "deleted after the transfer", split + "."),
            staged=folder, unload_sql=shown, source_types=types, split_by_spark=True)

    def source_types(self, plan: ReadPlan) -> tuple[SourceType, ...]:
        return plan.source_types if isinstance(plan, StageReadPlan) else ()

    def read_schema(self, plan: ReadPlan) -> StructType:
        """The Spark schema the unloaded Parquet is read as, from the warehouse's column types
        and its unload contract; a type the contract does not know is refused."""
        from pyspark.sql.types import StructType

        columns = []
        for column in self.source_types(plan):
            rule = self.stage.types.rule(column.type_name)
            if rule is None:
                raise TransferError(
                    f"column `{column.name}` is {column.shown()}, which the "
                    f"{self.facts.title} unload contract does not cover; it is refused.",
                    hint="Cast it in --query to a covered type, or use --connector jdbc.")
            spark = rule.spark
            if spark == "decimal(p,s)":
                spark = f"decimal({column.precision},{column.scale})"
            columns.append(f"`{column.name.replace('`', '``')}` {spark}")
        schema = StructType.fromDDL(", ".join(columns))
        assert isinstance(schema, StructType)
        return schema

    def load(self, plan: ReadPlan) -> DataFrame:
        """Unload into a new sub-folder (a retried action never reads a previous attempt's
        files), then read it; no Spark action runs here."""
        assert isinstance(plan, StageReadPlan)
        from pyspark.sql import functions as F

        folder = f"{plan.staged}{self._unloads}/"
        self._unloads += 1
        statement = unload_statement(self.stage, plan.sql, self.uri(folder), self.auth())
        db = self.open_sql()
        try:
            db.execute(statement.sql)
        finally:
            db.close()
        schema = self.read_schema(plan)
        fs = HadoopFS(self.spark, folder)
        if not fs.exists(folder) or not fs.data_files(folder):
            return self.spark.createDataFrame([], schema)  # no rows: nothing was unloaded
        df = self.spark.read.parquet(folder)
        found = {name.lower(): name for name in df.columns}
        return df.select(*[
            F.col("`" + found.get(f.name.lower(), f.name).replace("`", "``") + "`")
            .cast(f.dataType).alias(f.name) for f in schema.fields])

    def cleanup(self) -> list[str]:
        return self.staging_area.cleanup()

    def estimate_rows(self, request: ReadRequest) -> int | None:
        """The catalog's row count (the database's ``row_estimate``) through the same SQL
        session as the unload; None when unknown or unreadable (a warning, not a failure)."""
        template = self.facts.catalog.row_estimate
        if request.table is None or template is None:
            return None
        schema = (request.table.schema or self.connection.schema
                  or self.facts.catalog.default_schema or "")
        sql = template.format(schema=self.facts.quote_literal(schema),
                              table=self.facts.quote_literal(request.table.name))
        try:
            db = self.open_sql()
            try:
                rows = db.query(sql)
            finally:
                db.close()
        except Exception as exc:  # noqa: BLE001 - an estimate only steers the choice
            if self.console is not None:
                self.console.warn(f"no catalog estimate for `{self.connection.name}`: "
                                  + (self.describe_error(exc) or redact(str(exc))[:200]))
            return None
        try:
            value = int(str(rows[0][0])) if rows and rows[0] and rows[0][0] is not None else -1
        except ValueError:
            return None
        return value if value >= 0 else None

    # -- write ------------------------------------------------------------------------------------
    def write_dataframe(self, df: DataFrame, request: WriteRequest) -> WriteOutcome:
        """Spark writes the rows as Parquet into a new folder; the warehouse loads them into the
        staging table in the same transaction as the swap (or the insert)."""
        folder = self.new_folder()
        auth = self.auth()
        shown: list[str] = []
        sessions: list[WarehouseSql] = []

        def open_session() -> WarehouseSql:
            sessions.append(self.open_sql())
            return sessions[-1]

        def fill(stage: Stage) -> list[str]:
            previous = self.spark.conf.get(TIMESTAMP_CONF, None)
            self.spark.conf.set(TIMESTAMP_CONF, "TIMESTAMP_MICROS")
            try:
                df.toDF(*stage.columns).write.mode("overwrite").parquet(folder)
            finally:
                if previous is None:
                    self.spark.conf.unset(TIMESTAMP_CONF)
                else:
                    self.spark.conf.set(TIMESTAMP_CONF, previous)
            statement = load_statement(self.stage, stage.sql, self.uri(folder), auth)
            shown.append(statement.shown)
            if self.stage.load_job:  # a load job into the stage, before the swap's transaction
                db = sessions[-1]
                assert isinstance(db, LoadJobSql), f"{type(db).__name__} runs no load job"
                db.load_parquet(stage, self.stage.files.format(uri=self.uri(folder)))
                return []
            return [statement.sql]

        try:
            outcome = staged_write(self.connection, df, request, open_session=open_session,
                                   fill=fill, console=self.console)
        finally:
            problem = self.staging_area.remove(folder)
        notes = [f"Spark wrote the rows as Parquet to {folder}; {self.facts.title} loaded them "
                 f"{auth.how}: {'; '.join(shown)}", *outcome.notes]
        if problem:
            notes.append(f"warning: {problem}")
        return dataclasses.replace(outcome, notes=tuple(redact(n) for n in notes))

    # -- errors -----------------------------------------------------------------------------------
    def is_transient(self, exc: BaseException) -> bool:
        return any(link.sql_state and link.sql_state.startswith(self.transient_sqlstates)
                   for link in java_chain(exc))

    def describe_error(self, exc: BaseException) -> str | None:
        for link in java_chain(exc):
            if link.sql_state:
                first = (link.message.strip().splitlines() or [""])[0][:500]
                return redact(f"{link.java_class.rsplit('.', 1)[-1]} (SQLSTATE "
                              f"{link.sql_state}): {first}")
        return None


class SnowflakeUnloadConnector(StageNativeConnector):
    connector_type = ConnectorType.SNOWFLAKE_UNLOAD


class RedshiftUnloadConnector(StageNativeConnector):
    connector_type = ConnectorType.REDSHIFT_UNLOAD


class BigQueryUnloadConnector(StageNativeConnector):
    connector_type = ConnectorType.BIGQUERY_UNLOAD
