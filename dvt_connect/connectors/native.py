"""What the bulk-export connectors for Snowflake, BigQuery and Redshift have in common.

Each warehouse's own Spark connector moves the data (``spark.read.format(<facts.native.
spark_format>)``). This base builds its options with no unset value (NOTES #9) and keeps the
secret ones out of the plan, gives every transfer that stages through the bucket its own folder
``dvt/<run id>/`` and deletes that folder through Hadoop's FileSystem API when the action is over,
and reads warehouse errors (SQLSTATE classes, vendor codes) to tell transient from permanent.

The bucket's credentials reach Hadoop on the running context's Hadoop configuration, set by the
transfer job before planning (:mod:`dvt_connect.transfer.credentials`); nothing here calls
``spark.conf.set`` at run time.
"""

from __future__ import annotations

import json
import uuid
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from dvt_connect import secrets
from dvt_connect.adapters import NativeFacts
from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import (
    BaseConnector,
    Partition,
    ReadPlan,
    ReadRequest,
    WriteOutcome,
    WriteRequest,
)
from dvt_connect.connectors.filesystem import StagingArea
from dvt_connect.connectors.jdbc.errors import java_chain
from dvt_connect.errors import ConfigError, DvtError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from dvt_connect.console import Console

STAGING_ROOT = "dvt"
# Plan options under this prefix are instructions to `load` (e.g. a column projection) and are
# never passed to the Spark connector.
INTERNAL_PREFIX = "dvt."


def new_run_id() -> str:
    """A sortable, unique name for one transfer's staging folder."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


def clean_options(options: Mapping[str, object]) -> dict[str, str]:
    """Options as the Spark connector takes them: strings, unset ones left out (NOTES #9)."""
    cleaned: dict[str, str] = {}
    for key, value in options.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = str(value)
        if text == "None":
            raise DvtError(f"internal error: option `{key}` was about to be sent as 'None'.")
        cleaned[key] = text
    return cleaned


class NativeConnector(BaseConnector):
    """A warehouse read or written through its own bulk Spark connector.

    Subclasses build the options (``base_options``, ``read_spec``, ``write_spec``) and name the
    secret ones (``secret_options``); plan, load, write, staging and cleanup are written here.
    """

    # option names whose values are secrets: never in ReadPlan.options, describe(), errors or logs
    secret_options: ClassVar[frozenset[str]] = frozenset()
    # Java packages whose exceptions are this warehouse's (for describe_error)
    error_packages: ClassVar[tuple[str, ...]] = ()
    # SQLSTATE prefixes of failures a re-run can get past (connection lost, serialization)
    transient_sqlstates: ClassVar[tuple[str, ...]] = ("08", "40001")

    def __init__(
        self,
        spark: SparkSession,
        connection: Connection,
        *,
        bucket: Bucket | None = None,
        console: Console | None = None,
    ) -> None:
        super().__init__(spark, connection, bucket=bucket, console=console)
        native = connection.facts.native
        if native is None:
            raise ConfigError(f"`{connection.type}` has no native connector.",
                              path=connection.source_file, key=connection.name)
        # `local` buckets stage on this machine: for tests and on-premise set-ups; selection
        # never picks one for a cloud warehouse, which could not reach it.
        if bucket is not None and bucket.type not in (*native.bucket_types, "local"):
            raise ConfigError(
                f"bucket `{bucket.name}` is {bucket.type}; the {native.name} connector stages "
                f"through {' or '.join(native.bucket_types)} buckets.",
                path=bucket.source_file, key=bucket.name,
            )
        self.native: NativeFacts = native
        self.staging_area = StagingArea(spark, self.console)

    # -- what a subclass provides ---------------------------------------------------------------
    @abstractmethod
    def base_options(self) -> dict[str, str]:
        """Connection and authentication options (secrets included); never printed."""

    @abstractmethod
    def read_spec(self, request: ReadRequest) -> tuple[dict[str, str], str, tuple[str, ...]]:
        """(all read options, the SQL or table read, notes) for a request."""

    @abstractmethod
    def write_spec(self, request: WriteRequest) -> tuple[dict[str, str], str, tuple[str, ...]]:
        """(all write options, where the rows land, notes); stage with ``staging_path``."""

    @property
    def spark_format(self) -> str:
        return self.native.spark_format

    # -- options and secrets ------------------------------------------------------------------
    def is_secret(self, name: str, value: str) -> bool:
        return name in self.secret_options

    def public_options(self, options: Mapping[str, str]) -> dict[str, str]:
        """The options safe to keep in a plan: secrets left out."""
        return {k: v for k, v in options.items() if not self.is_secret(k, v)}

    def secret_values(self) -> dict[str, str]:
        """The secret options ``load`` adds back to a plan's public options."""
        found = {k: v for k, v in self.base_options().items() if self.is_secret(k, v)}
        secrets.register(list(found.values()))
        return found

    # -- plan, load, write ----------------------------------------------------------------------
    def plan_read(self, request: ReadRequest, *, reason: str = "") -> ReadPlan:
        options, sql, notes = self.read_spec(request)
        secrets.register([v for k, v in options.items() if self.is_secret(k, v)])
        ignored = [flag for flag, value in (("--partitions", request.partitions),
                                            ("--partition-column", request.partition_column),
                                            ("--fetch-size", request.fetch_size))
                   if value is not None and not self._honours(flag)]
        split = (f"{self.native.name}'s export decides how the rows are split; one logical "
                 "partition is planned")
        if ignored:
            split += f" ({', '.join(ignored)} ignored)"
        staged = any(v in self.staging_area.paths for v in options.values())
        return ReadPlan(
            connector=self.connector_type,
            reason=reason,
            source=str(request.table) if request.table else "query",
            sql=sql,
            partitions=(Partition(index=0, predicate=None),),
            bucket=self.bucket if staged else None,
            options=self.public_options(options),
            notes=(split + ".", *notes),
        )

    def _honours(self, flag: str) -> bool:
        """Whether a read option maps onto this connector (BigQuery maps --partitions)."""
        return False

    def load(self, plan: ReadPlan) -> DataFrame:
        options = {k: v for k, v in plan.options.items() if not k.startswith(INTERNAL_PREFIX)}
        options.update(self.secret_values())
        df = self.spark.read.format(self.spark_format).options(**options).load()
        select = plan.options.get(f"{INTERNAL_PREFIX}select")
        if select:
            df = df.select(*json.loads(select))
        return df

    def describe_write(self, request: WriteRequest) -> list[str]:
        if request.mode not in ("overwrite", "append"):
            raise UsageError(
                f"--mode {request.mode} into {self.connection.type} output "
                f"`{self.connection.name}`: its Spark connector writes overwrite and append "
                "only.", hint="Add --connector jdbc to write through our staged JDBC write, "
                              "which has every mode.")
        return []

    def write_dataframe(self, df: DataFrame, request: WriteRequest) -> WriteOutcome:
        self.describe_write(request)
        if request.table is None:
            raise UsageError(f"writing to `{self.connection.name}` needs --target-table.")
        if request.partition_by:
            raise UsageError(f"--partition-by is for file targets; `{self.connection.name}` is "
                             f"{self.connection.type}.")
        staged_before = len(self.staging_area)
        try:
            options, location, notes = self.write_spec(request)
            secrets.register([v for k, v in options.items() if self.is_secret(k, v)])
            (df.write.format(self.spark_format).options(**options).mode(request.mode).save())
        finally:
            problems = [self.remove_staging(p)
                        for p in self.staging_area.paths[staged_before:]]
        return WriteOutcome(bytes_written=None, location=location,
                            notes=notes + tuple(p for p in problems if p))

    # -- estimates --------------------------------------------------------------------------------
    def catalog_scalar(self, options: Mapping[str, str]) -> Any:
        """The first value of a one-row catalog query run through the connector itself."""
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        try:
            rows = (self.spark.read.format(self.spark_format).options(**options).load()
                    .limit(1).collect())
        except (PySparkException, Py4JError) as exc:
            if self.console is not None:
                self.console.warn(f"no catalog estimate for `{self.connection.name}`: "
                                  + (self.describe_error(exc) or type(exc).__name__))
            return None
        return rows[0][0] if rows else None

    @staticmethod
    def as_estimate(value: Any) -> int | None:
        try:
            rows = int(value)
        except (TypeError, ValueError):
            return None
        return rows if rows >= 0 else None

    # -- staging --------------------------------------------------------------------------------
    def staging_path(self) -> str:
        """A new folder ``dvt/<run id>/`` in the bucket for one transfer; deleted afterwards."""
        if self.bucket is None:
            raise ConfigError(
                f"the {self.native.name} connector stages through a "
                f"{' or '.join(self.native.bucket_types)} bucket, and none was given.",
                hint="Add one to buckets.yml (`dvt init` writes a template).",
            )
        return str(self.staging_area.add(self.bucket.spark_path(f"{STAGING_ROOT}/{new_run_id()}/")))

    @contextmanager
    def staging(self) -> Iterator[str]:
        path = self.staging_path()
        try:
            yield path
        finally:
            self.remove_staging(path)

    def remove_staging(self, path: str) -> str | None:
        """Delete one staging folder this connector created; a problem is returned and warned,
        never raised, so it cannot hide the transfer's own outcome."""
        return self.staging_area.remove(path)

    def cleanup(self) -> list[str]:
        """Delete every staging folder still held (call after the action, success or failure);
        returns the problems, already warned."""
        return self.staging_area.cleanup()

    @property
    def staged_paths(self) -> tuple[str, ...]:
        return self.staging_area.paths

    # -- errors ---------------------------------------------------------------------------------
    def is_transient(self, exc: BaseException) -> bool:
        return any(link.sql_state and link.sql_state.startswith(self.transient_sqlstates)
                   for link in java_chain(exc))

    def describe_error(self, exc: BaseException) -> str | None:
        for link in java_chain(exc):
            if link.java_class.startswith(self.error_packages) or link.sql_state:
                state = f" (SQLSTATE {link.sql_state})" if link.sql_state else ""
                first = (link.message.strip().splitlines() or [""])[0][:500]
                name = link.java_class.rsplit(".", 1)[-1]
                return secrets.redact(f"{name}{state}: {first}")
        return None


def select_sql(connection: Connection, request: ReadRequest) -> str:
    """``SELECT <quoted columns> FROM <quoted table> [WHERE (<user's predicate>)]``."""
    assert request.table is not None
    facts = connection.facts
    columns = ", ".join(facts.quote_identifier(c) for c in request.columns) or "*"
    sql = f"SELECT {columns} FROM {request.table.sql(facts)}"
    if request.where:
        sql += f" WHERE ({request.where})"
    return sql


def _first_line(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:300]
