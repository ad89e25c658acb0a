"""The connector registry, and the factory that picks one for a connection and says why.

The registry maps each :class:`ConnectorType` to ``"module:Class"`` and imports lazily, so a
connector whose module (or whose Spark dependency) is missing breaks only the transfers that need
it. Selection itself is :func:`~dvt_connect.connectors.selection.choose_connector` (pure); the
factory adds the one piece of I/O it needs — the source's row estimate from catalog statistics,
asked only when a native path is actually possible — and builds the connector.

Usable on its own with an existing SparkSession::

    factory = ConnectorFactory(spark, project.buckets)
    source = factory.for_source(project.connection("warehouse"), ReadRequest(table=...))
    source.choice.reason   # e.g. "about 1,200 rows (catalog estimate) is under 100,000: ..."
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import ConnectorType
from dvt_connect.connectors.selection import (
    NATIVE_ROW_THRESHOLD,
    Choice,
    choose_connector,
    find_bucket,
    native_possible,
    unload_wanted,
)
from dvt_connect.databases.spec import NativeFacts
from dvt_connect.errors import DvtError, SourceError, UnreachableError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.connectors.base import BaseConnector, ReadRequest
    from dvt_connect.console import Console
    from dvt_connect.partitioning import PartitionConfig

__all__ = ["ConnectorFactory", "REGISTRY", "connector_class", "register"]

REGISTRY: dict[ConnectorType, str] = {
    ConnectorType.JDBC: "dvt_connect.connectors.jdbc:JDBCConnector",
    ConnectorType.FILES: "dvt_connect.connectors.files:FilesConnector",
    ConnectorType.LAKEHOUSE: "dvt_connect.connectors.lakehouse:LakehouseConnector",
    ConnectorType.SNOWFLAKE_NATIVE: "dvt_connect.connectors.snowflake:SnowflakeNativeConnector",
    ConnectorType.BIGQUERY_NATIVE: "dvt_connect.connectors.bigquery:BigQueryNativeConnector",
    ConnectorType.REDSHIFT_NATIVE: "dvt_connect.connectors.redshift:RedshiftNativeConnector",
    ConnectorType.POSTGRES_NATIVE:
        "dvt_connect.connectors.postgres_native.connector:PostgresNativeConnector",
    ConnectorType.MYSQL_NATIVE:
        "dvt_connect.connectors.mysql_native.connector:MySQLNativeConnector",
    ConnectorType.SNOWFLAKE_UNLOAD:
        "dvt_connect.connectors.stage_native:SnowflakeUnloadConnector",
    ConnectorType.REDSHIFT_UNLOAD: "dvt_connect.connectors.stage_native:RedshiftUnloadConnector",
    ConnectorType.BIGQUERY_UNLOAD: "dvt_connect.connectors.stage_native:BigQueryUnloadConnector",
}


def register(connector_type: ConnectorType, target: str) -> None:
    """Point ``connector_type`` at ``"module:Class"`` (an extension, or a test double)."""
    if ":" not in target:
        raise ValueError(f"`{target}` is not `module:Class`.")
    REGISTRY[connector_type] = target


def connector_class(connector_type: ConnectorType) -> type[BaseConnector]:
    """Import the class registered for ``connector_type``."""
    from dvt_connect.connectors.base import BaseConnector

    target = REGISTRY.get(connector_type)
    if target is None:
        raise DvtError(f"no connector is registered for `{connector_type.value}`.")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DvtError(
            f"the {connector_type.value} connector cannot be loaded ({module_name}: {exc}).",
            hint="Reinstall dvt-connect, or use --connector jdbc.",
        ) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseConnector)):
        raise DvtError(f"`{target}` is not a connector class.")
    return cls


class ConnectorFactory:
    """Builds the connector for a source or target; each carries its :class:`Choice` as
    ``connector.choice``.

    ``emit_warnings`` sends the choice's warnings (the fallback to JDBC when a native path
    exists but no bucket is configured) to ``console`` as they are decided.
    """

    def __init__(
        self,
        spark: SparkSession,
        buckets: Mapping[str, Bucket] | None = None,
        *,
        console: Console | None = None,
        threshold: int = NATIVE_ROW_THRESHOLD,
        partition_config: PartitionConfig | None = None,
        emit_warnings: bool = True,
        native_unavailable: Callable[[NativeFacts], str | None] | None = None,
    ) -> None:
        self.spark = spark
        # why a configured native connector cannot run in this session (e.g. jars not synced)
        self.native_unavailable = native_unavailable
        self.buckets: Mapping[str, Bucket] = buckets or {}
        self.console = console
        self.threshold = threshold
        self.partition_config = partition_config
        self.emit_warnings = emit_warnings

    def for_source(
        self,
        connection: Connection,
        request: ReadRequest,
        mode: str = "auto",
        preferred_bucket: str | None = None,
        rows_target: str | None = None,
    ) -> BaseConnector:
        """The connector to read ``request`` from ``connection`` with (``mode``: auto, jdbc,
        native). In auto mode a native path that is possible is weighed against the source's
        estimated size (catalog statistics; JDBC below ``threshold`` rows) and against the
        target (``rows_target``: why it needs Spark rows)."""
        jdbc: BaseConnector | None = None
        estimate: int | None = None
        native = connection.facts.native
        unavailable = self._unavailable(connection)
        stage = connection.facts.stage
        unload_bucket = (find_bucket(stage, self.buckets, preferred_bucket)
                         if stage is not None and unload_wanted(connection, unavailable)
                         else None)
        if mode == "auto" and not connection.is_files and unload_bucket is not None:
            # the stage-native path asks the catalog through its own SQL session
            estimate = self._estimate(
                self._create(ConnectorType.unload(connection.facts.name), connection,
                             unload_bucket), connection, request)
        elif (mode == "auto" and not connection.is_files
                and native_possible(native, self.buckets, preferred_bucket,
                                    unavailable=unavailable)):
            jdbc = self._create(ConnectorType.JDBC, connection, None)
            estimate = self._estimate(jdbc, connection, request)
        choice = choose_connector(connection, self.buckets, mode=mode,
                                  preferred_bucket=preferred_bucket, estimated_rows=estimate,
                                  threshold=self.threshold, unavailable=unavailable,
                                  rows_target=rows_target)
        if jdbc is not None and choice.connector is ConnectorType.JDBC:
            return self._attach(jdbc, choice)
        return self._attach(self._create(choice.connector, connection, choice.bucket), choice)

    def for_target(
        self,
        connection: Connection,
        mode: str = "auto",
        preferred_bucket: str | None = None,
    ) -> BaseConnector:
        """The connector to write into ``connection`` with. The size of what will be written is
        not known before the write, so a possible native path is taken (auto)."""
        choice = choose_connector(connection, self.buckets, mode=mode,
                                  preferred_bucket=preferred_bucket,
                                  unavailable=self._unavailable(connection))
        return self._attach(self._create(choice.connector, connection, choice.bucket), choice)

    def _unavailable(self, connection: Connection) -> str | None:
        native = connection.facts.native
        if native is None or connection.is_files or self.native_unavailable is None:
            return None
        return self.native_unavailable(native)

    def _create(self, connector_type: ConnectorType, connection: Connection,
                bucket: Bucket | None) -> BaseConnector:
        cls = connector_class(connector_type)
        if connector_type is ConnectorType.FILES and bucket is None:
            # a files output may name its bucket (`bucket: lake_s3`) instead of a full URI
            named = getattr(connection, "bucket", None)
            bucket = self.buckets.get(str(named)) if named else None
        if connector_type is ConnectorType.JDBC:
            from dvt_connect.connectors.jdbc import JDBCConnector

            assert issubclass(cls, JDBCConnector)
            return cls(self.spark, connection, console=self.console,
                       partition_config=self.partition_config)
        return cls(self.spark, connection, bucket=bucket, console=self.console)

    def _estimate(self, jdbc: BaseConnector, connection: Connection,
                  request: ReadRequest) -> int | None:
        """The catalog estimate over JDBC, or None when JDBC cannot ask (no driver jar, no JDBC
        URL for the adapter: the native path does not need them)."""
        try:
            return jdbc.estimate_rows(request)
        except UnreachableError:
            raise  # planning the read would fail the same way
        except SourceError as exc:
            if self.console is not None:
                self.console.warn(f"could not read the size of the source from the catalog "
                                  f"({exc.message}); choosing the connector without it")
            return None
        except DvtError:
            return None

    def _attach(self, connector: BaseConnector, choice: Choice) -> BaseConnector:
        if self.emit_warnings and self.console is not None:
            for warning in choice.warnings:
                self.console.warn(warning)
        connector.choice = choice
        return connector
