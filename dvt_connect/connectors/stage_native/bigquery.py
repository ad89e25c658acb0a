"""BigQuery's SQL through its Python client (Google publishes no JDBC driver on Maven Central).

``google-cloud-bigquery`` (``pip install "dvt-connect[bigquery]"``) is imported only when a
BigQuery stage-native transfer runs. Authentication follows the output's dbt ``method``:
``keyfile``, ``keyfile_json``, ``oauth-secrets`` (a ``token``, or a ``refresh_token`` with
``client_id``/``client_secret``), else the application default credentials. BigQuery reaches the
bucket as that identity, so no statement or job carries a secret. ``api_endpoint:`` on the output
points the client at another endpoint (Private Service Connect, a regional endpoint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.typeplan import SourceType
from dvt_connect.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.connectors.staging import Stage

# what the load job is told: Parquet files into the (empty, dvt-created) staging table
LOAD_FORMAT = "PARQUET"
LOAD_DISPOSITION = "WRITE_APPEND"


def _credentials(connection: Connection) -> Any:
    """The output's credentials as google-auth objects; None for the default chain."""
    extra: Any = connection.extra
    if extra.get("keyfile"):
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_file(extra["keyfile"])
    if extra.get("keyfile_json"):
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(extra["keyfile_json"])
    if connection.method == "oauth-secrets":
        from google.oauth2.credentials import Credentials

        return Credentials(extra.get("token"), refresh_token=extra.get("refresh_token"),
                           client_id=extra.get("client_id"),
                           client_secret=extra.get("client_secret"),
                           token_uri=extra.get("token_uri")
                           or "https://oauth2.googleapis.com/token")
    return None


class BigQuerySql:
    """A :class:`~dvt_connect.connectors.stage_native.executor.WarehouseSql` on BigQuery, plus
    the load job its write path uses (:meth:`load_parquet`)."""

    def __init__(self, spark: SparkSession | None, connection: Connection) -> None:
        try:
            from google.cloud import bigquery
        except ImportError:
            raise ConfigError(
                "the stage-native path for BigQuery runs its SQL through the "
                "`google-cloud-bigquery` Python client, which is not installed.",
                hint='pip install "dvt-connect[bigquery]", or use --connector jdbc.',
            ) from None
        self.connection = connection
        extra: Any = connection.extra
        self.project = getattr(connection, "project", None) or connection.database
        options = {"api_endpoint": extra["api_endpoint"]} if extra.get("api_endpoint") else None
        self.client = bigquery.Client(project=extra.get("execution_project") or self.project,
                                      credentials=_credentials(connection),
                                      location=extra.get("location"), client_options=options)
        self._bigquery = bigquery

    def execute(self, sql: str) -> None:
        self.client.query(sql).result()

    def transaction(self, statements: list[str]) -> None:
        # a multi-statement transaction in one script
        self.execute("BEGIN TRANSACTION;\n" + ";\n".join(statements) + ";\nCOMMIT TRANSACTION;")

    def query(self, sql: str, limit: int | None = None) -> list[tuple[str | None, ...]]:
        rows = [tuple(None if v is None else str(v) for v in row.values())
                for row in self.client.query(sql).result()]
        return rows if limit is None else rows[:limit]

    def describe(self, select: str) -> list[SourceType]:
        config = self._bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        schema = self.client.query(select, job_config=config).schema or []
        return [SourceType(f.name, f.field_type, int(f.precision or 0), int(f.scale or 0))
                for f in schema]

    def load_parquet(self, stage: Stage, files: str) -> None:
        """A load job: the Parquet files under ``files`` (one ``*`` wildcard) appended to the
        staging table, which the staged write then swaps in or inserts from."""
        dataset = self._bigquery.DatasetReference(
            str(self.project), str(stage.schema or self.connection.schema))
        table = self._bigquery.TableReference(dataset, stage.name)
        config = self._bigquery.LoadJobConfig(source_format=LOAD_FORMAT,
                                              write_disposition=LOAD_DISPOSITION)
        self.client.load_table_from_uri(files, table, job_config=config).result()

    def current_schema(self) -> str | None:
        return self.connection.schema

    def table_kind(self, schema: str | None, name: str) -> str | None:
        from google.api_core.exceptions import NotFound

        try:
            table = self.client.get_table(self._ref(schema, name))
        except NotFound:
            return None
        return "view" if table.table_type == "VIEW" else "table"

    def columns(self, schema: str | None, name: str) -> list[str]:
        return [f.name for f in self.client.get_table(self._ref(schema, name)).schema]

    def unique_keys(self, schema: str | None, name: str) -> list[tuple[str, ...]]:
        return []  # BigQuery enforces no unique keys (the stage-native load has no keyed modes)

    def _ref(self, schema: str | None, name: str) -> str:
        return ".".join(p for p in (self.project, schema or self.connection.schema, name) if p)

    def close(self) -> None:
        self.client.close()
