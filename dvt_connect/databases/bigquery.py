"""Google BigQuery: no public JDBC driver on Maven; the spark-bigquery connector staging through
a GCS bucket (:mod:`dvt_connect.connectors.bigquery`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dvt_connect.databases.connection import Connection, Fail
from dvt_connect.databases.spec import (
    Database,
    Dialect,
    Endpoint,
    NamingRule,
    NativeFacts,
    StageFacts,
    Swap,
    TypeMap,
    TypeRule,
)

METHODS = ("oauth", "oauth-secrets", "service-account", "service-account-json")


@dataclass(frozen=True, repr=False)
class BigQueryConnection(Connection):
    """A BigQuery output: a project and dataset, authenticated by one of dbt's methods."""

    @classmethod
    def validate(cls, values: dict[str, Any], extra: dict[str, Any], fail: Fail) -> None:
        method = str(values.get("method") or "oauth")
        if method not in METHODS:
            raise fail(f"unknown bigquery method `{method}`; valid: {', '.join(METHODS)}.",
                       "method")
        if method == "service-account" and not extra.get("keyfile"):
            raise fail("`method: service-account` needs `keyfile`.", "keyfile")
        if method == "service-account-json" and not extra.get("keyfile_json"):
            raise fail("`method: service-account-json` needs `keyfile_json`.", "keyfile_json")

    @property
    def keyfile(self) -> str | None:
        value = self.extra.get("keyfile")
        return None if value is None else str(value)

    @property
    def keyfile_json(self) -> Any:
        return self.extra.get("keyfile_json")

    @property
    def token(self) -> str | None:
        return self.extra.get("token")

    @property
    def execution_project(self) -> str | None:
        return self.extra.get("execution_project")


NATIVE = NativeFacts(
    name="bigquery",
    spark_format="bigquery",
    group="com.google.cloud.spark",
    artifact="spark-{spark}-bigquery",
    # spark-4.0-bigquery since 0.43.0 (GA in 0.44.0), spark-4.1-bigquery since
    # 0.44.0; both need Java 17.
    naming=NamingRule(spark_in_artifact=True),
    releases={"3.5": "0.44.2", "4.0": "0.44.2", "4.1": "0.44.2"},
    bucket_types=("gcs",),
    docs="https://github.com/GoogleCloudDataproc/spark-bigquery-connector",
    sources=(
        "GoogleCloudDataproc/spark-bigquery-connector CHANGES.md (0.35.0 adds "
        "spark-3.5-bigquery, 0.43.0 spark-4.0-bigquery, 0.44.0 "
        "spark-4.1-bigquery; 0.44.2 released 2026-05-20)",
    ),
)

# Source types: Spark type, exact or lossy and why.
TYPES = TypeMap(rules=(
    TypeRule(("int64",), "long"), TypeRule(("float64",), "double"),
    TypeRule(("numeric",), "decimal(38,9)"),
    TypeRule(("bignumeric",), "decimal(38,38)", exact=False,
             why="BIGNUMERIC holds 76 digits; Spark's decimal 38"),
    TypeRule(("bool",), "boolean"), TypeRule(("string",), "string"),
    TypeRule(("bytes",), "binary"), TypeRule(("date",), "date"),
    TypeRule(("datetime",), "timestamp_ntz", why="a wall time"),
    TypeRule(("timestamp",), "timestamp", why="an instant"),
    TypeRule(("time",), "string", exact=False, why="Spark has no time of day type"),
    TypeRule(("json", "geography", "interval"), "string (canonical text)",
             why="carried as its canonical text"),
    TypeRule(("array", "struct"), "array / struct", why="nested types stay nested"),
))

# The stage-native path: EXPORT DATA writes Parquet to GCS, a load job loads it, both through
# BigQuery's Python client (no JDBC driver is published on Maven Central). BigQuery reaches the
# bucket as the job's own identity: nothing secret is in either.
STAGE = StageFacts(
    # EXPORT DATA OPTIONS (export_option_list) AS query_statement; the uri needs one `*`
    unload=("EXPORT DATA OPTIONS (uri = '{files}', format = 'PARQUET', overwrite = true) "
            "AS {select}"),
    # a load job (jobs.insert with configuration.load, the client's load_table_from_uri), not
    # a LOAD DATA statement; this is what the job is told, as plans and notes show it
    load=("load job: sourceUris = ['{files}'], sourceFormat = PARQUET, destinationTable = "
          "{table}, writeDisposition = WRITE_APPEND"),
    load_job=True,
    schemes={"gcs": "gs"},
    files="{uri}*.parquet",
    executor="dvt_connect.connectors.stage_native.bigquery:BigQuerySql",
    python_modules=("google.cloud.bigquery",),
    python_extra="bigquery",
    types=TypeMap(rules=(
        TypeRule(("int64", "integer"), "long"), TypeRule(("float64", "float"), "double"),
        TypeRule(("numeric",), "decimal(38,9)"),
        TypeRule(("bignumeric",), "decimal(38,38)", exact=False,
                 why="BIGNUMERIC exports as a 76-digit Parquet decimal; Spark holds 38"),
        TypeRule(("bool", "boolean"), "boolean"), TypeRule(("string",), "string"),
        TypeRule(("bytes",), "binary"), TypeRule(("date",), "date"),
        TypeRule(("timestamp",), "timestamp", why="an instant (Parquet micros, UTC)"),
        TypeRule(("datetime", "time"), "string", exact=False,
                 why="the export's Parquet form of DATETIME/TIME is not part of the contract"),
        TypeRule(("json", "geography", "interval"), "string",
                 why="carried as its canonical text"),
    )),
    sources=(
        "https://cloud.google.com/bigquery/docs/reference/standard-sql/export-statements "
        "(EXPORT DATA OPTIONS (uri, format, overwrite) AS query; the uri has one wildcard)",
        "https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobConfigurationLoad "
        "(sourceUris, sourceFormat = PARQUET, destinationTable, writeDisposition)",
    ),
)

# Tables dvt creates (the stage-native load's staging table) and how one replaces the target.
# BigQuery runs no DDL on permanent tables inside a transaction
# (cloud.google.com/bigquery/docs/transactions), so the swap is one atomic statement each:
# CREATE OR REPLACE TABLE ... COPY over an existing target, a rename for a new one.
DIALECT = Dialect(
    name="bigquery",
    title="BigQuery",
    types={
        "boolean": "BOOL", "byte": "INT64", "short": "INT64", "integer": "INT64",
        "long": "INT64", "float": "FLOAT64", "double": "FLOAT64",
        # BIGNUMERIC(P, S) holds every Spark decimal (S <= 38, P <= S + 38); NUMERIC only S <= 9
        "decimal": "BIGNUMERIC({p}, {s})",
        "varchar": "STRING", "char": "STRING", "binary": "BYTES", "date": "DATE",
        "timestamp": "TIMESTAMP", "timestamp_ntz": "DATETIME",
    },
    text_ladder=((None, "STRING"),),
    varchar_limit=2_147_483_647,
    max_precision=38,
    max_identifier=300,
    swap=Swap(
        replace=("CREATE OR REPLACE TABLE {target} COPY {stage}",),
        create=("ALTER TABLE {stage} RENAME TO {target_name}",),
        after=("DROP TABLE {stage}",),
        transactional=False,
        how="copied over the target in one statement (CREATE OR REPLACE TABLE … COPY); "
            "BigQuery allows no DDL in a transaction",
    ),
    # DELETE needs a WHERE clause on BigQuery; TRUNCATE TABLE is DML and runs in a transaction
    truncate=("TRUNCATE TABLE {target}",),
)

BIGQUERY = Database(
    name="bigquery",
    types=TYPES,
    kind="jdbc",
    url_template=None,
    driver_note=(
        "Google's BigQuery JDBC driver (Simba) is not published on Maven Central: "
        "download the driver zip from Google Cloud's BigQuery JDBC page and unzip "
        "its jars into the jars folder (or publish them to your own Maven "
        "repository and list them under `packages:`), or configure a GCS bucket so "
        "a native path is used instead (spark-bigquery where a release fits the installed "
        "Spark, else BigQuery's own EXPORT DATA and load jobs through "
        "`pip install \"dvt-connect[bigquery]\"`)."
    ),
    quote="`",
    ddl=DIALECT,
    native=NATIVE,
    stage=STAGE,
    required=("project",),
    aliases={"dataset": "schema", "database": "project"},
    secret_fields=("keyfile",),
    connection=BigQueryConnection,
    endpoint=Endpoint(host="bigquery.googleapis.com", port=443),  # the service's API
)

DATABASES = (BIGQUERY,)
