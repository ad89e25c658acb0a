"""BigQuery's SQL through its Python client (Google publishes no JDBC driver on Maven Central).

``google-cloud-bigquery`` is imported only when a BigQuery stage-native transfer runs.
Authentication follows the output (``keyfile``, ``keyfile_json``) or the application default
credentials; BigQuery reaches the bucket as that identity, so no statement carries a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.typeplan import SourceType
from dvt_connect.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class BigQuerySql:
    """A :class:`~dvt_connect.connectors.stage_native.executor.WarehouseSql` on BigQuery."""

    def __init__(self, spark: SparkSession, connection: Connection) -> None:
        try:
            from google.cloud import bigquery
        except ImportError:
            raise ConfigError(
                "the stage-native path for BigQuery runs its SQL through the "
                "`google-cloud-bigquery` Python client, which is not installed.",
                hint="pip install google-cloud-bigquery, or use --connector jdbc.",
            ) from None
        self.connection = connection
        extra: Any = connection.extra
        project = connection.database or extra.get("project")
        if extra.get("keyfile"):
            self.client = bigquery.Client.from_service_account_json(extra["keyfile"],
                                                                   project=project)
        elif extra.get("keyfile_json"):
            self.client = bigquery.Client.from_service_account_info(extra["keyfile_json"],
                                                                   project=project)
        else:
            self.client = bigquery.Client(project=project)
        self._bigquery = bigquery

    def execute(self, sql: str) -> None:
        self.client.query(sql).result()

    def transaction(self, statements: list[str]) -> None:
        # a multi-statement transaction in one script
        self.execute("BEGIN TRANSACTION;\n" + ";\n".join(statements) + ";\nCOMMIT TRANSACTION;")

    def query(self, sql: str) -> list[tuple[str | None, ...]]:
        return [tuple(None if v is None else str(v) for v in row.values())
                for row in self.client.query(sql).result()]

    def describe(self, select: str) -> list[SourceType]:
        config = self._bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        schema = self.client.query(select, job_config=config).schema or []
        return [SourceType(f.name, f.field_type, int(f.precision or 0), int(f.scale or 0))
                for f in schema]

    def current_schema(self) -> str | None:
        return self.connection.schema

    def table_kind(self, schema: str | None, name: str) -> str | None:
        from google.api_core.exceptions import NotFound

        try:
            table = self.client.get_table(f"{schema}.{name}" if schema else name)
        except NotFound:
            return None
        return "view" if table.table_type == "VIEW" else "table"

    def columns(self, schema: str | None, name: str) -> list[str]:
        table = self.client.get_table(f"{schema}.{name}" if schema else name)
        return [f.name for f in table.schema]

    def close(self) -> None:
        self.client.close()
