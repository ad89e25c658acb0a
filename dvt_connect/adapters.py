"""Per-database facts, as data: the one table that config, sync, debug and transfer all read.

Nothing else in the code branches on an adapter's name; it looks the adapter up here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dvt_connect.errors import NotFoundError


@dataclass(frozen=True)
class NativeFacts:
    """A native (bulk-export) Spark connector for a warehouse.

    ``artifact`` may contain ``{scala}`` (Scala binary version) and ``{spark}`` (Spark minor
    version); ``releases`` maps a Spark minor version (``"3.5"``, ``"4.0"``) to the connector
    version published for it. ``extra_packages`` are further top-level coordinates the connector
    needs at run time that its POM does not declare (spark-snowflake's snowflake-jdbc does it).

    A native path written in Python (PostgreSQL, MySQL/MariaDB bulk protocols run inside Spark
    tasks) has no Maven artifact (``group`` empty): it needs the Python modules
    ``python_modules``, installed by ``pip install "dvt-connect[<python_extra>]"``, and a bucket
    only when ``needs_bucket``.
    """

    name: str
    spark_format: str
    group: str
    artifact: str
    releases: Mapping[str, str]
    bucket_types: tuple[str, ...]
    extra_packages: tuple[str, ...] = ()
    docs: str = ""
    # Spark minor -> Scala binary versions its release is published for (absent: every Scala
    # version that Spark offers); where each release fact was checked.
    scala_binaries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    python_extra: str | None = None
    python_modules: tuple[str, ...] = ()
    needs_bucket: bool = True

    @property
    def is_python(self) -> bool:
        """A native path that runs in Python tasks: nothing for Spark's classpath."""
        return self.python_extra is not None


@dataclass(frozen=True)
class FilesystemFacts:
    """The Hadoop filesystem a bucket type needs on Spark's classpath.

    ``packages`` may contain ``{hadoop}``: the Hadoop version the installed PySpark ships (the
    filesystem jar must match it exactly). ``transitive=False`` takes the jar alone: a shaded
    jar bundles what its POM lists.
    """

    type: str
    scheme: str
    packages: tuple[str, ...] = ()
    transitive: bool = True
    docs: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogQueries:
    """SQL templates read by the partition planner.

    Placeholders ``{schema}`` and ``{table}`` are replaced with *string literals* quoted by the
    dialect (never spliced as raw names). ``row_estimate`` returns one number from catalog
    statistics (no full count); ``primary_key`` and ``indexed_columns`` return column names.
    """

    row_estimate: str | None = None
    primary_key: str | None = None
    indexed_columns: str | None = None
    default_schema: str | None = None
    quantiles: str | None = None


@dataclass(frozen=True)
class AdapterFacts:
    name: str
    kind: str  # "jdbc" (a database reached over JDBC) or "files" (a lake path)
    url_template: str | None = None
    default_port: int | None = None
    driver_class: str | None = None
    driver_packages: tuple[str, ...] = ()
    driver_note: str | None = None
    bundled_with_spark: bool = False
    quote: str = '"'
    native: NativeFacts | None = None
    fetch_size: int = 10_000
    jdbc_properties: Mapping[str, str] = field(default_factory=dict)
    catalog: CatalogQueries = field(default_factory=CatalogQueries)
    required: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    secret_fields: tuple[str, ...] = ()

    def quote_identifier(self, name: str) -> str:
        """Quote one identifier part, doubling any embedded quote character."""
        if self.quote == "[":
            return "[" + name.replace("]", "]]") + "]"
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote

    def quote_qualified(self, *parts: str | None) -> str:
        return ".".join(self.quote_identifier(p) for p in parts if p)

    @staticmethod
    def quote_literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"


# Fields whose values are secrets for every adapter (dbt's names and ours).
COMMON_SECRET_FIELDS = (
    "password",
    "pass",
    "private_key",
    "private_key_passphrase",
    "token",
    "keyfile_json",
    "refresh_token",
    "client_secret",
    "secret",
    "access_token",
    "aws_secret_access_key",
)

_PG_CATALOG = CatalogQueries(
    row_estimate=(
        "SELECT GREATEST(c.reltuples, 0)::bigint FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = {schema} AND c.relname = {table}"
    ),
    primary_key=(
        "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indisprimary AND n.nspname = {schema} AND c.relname = {table}"
    ),
    indexed_columns=(
        "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
        "WHERE n.nspname = {schema} AND c.relname = {table}"
    ),
    default_schema="public",
    quantiles="percentile_disc",
)

_MYSQL_CATALOG = CatalogQueries(
    row_estimate=(
        "SELECT TABLE_ROWS FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {table}"
    ),
    primary_key=(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {table} AND CONSTRAINT_NAME = 'PRIMARY' "
        "ORDER BY ORDINAL_POSITION"
    ),
    indexed_columns=(
        "SELECT COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {table} AND SEQ_IN_INDEX = 1"
    ),
    quantiles="window",
)

_PG_ALIASES = {"dbname": "database", "pass": "password"}

# Python bulk paths (dvt_connect.connectors.postgres_native / mysql_native). Rows reach Spark as
# Arrow batches, so no bucket is needed; a `local` bucket serves the `native_path: parquet`
# variant, which stages each partition as a Parquet file.
_PG_NATIVE = NativeFacts(
    name="postgres",
    spark_format="dvt_bulk",
    group="",
    artifact="",
    releases={},
    bucket_types=("local",),
    python_extra="postgres",
    python_modules=("adbc_driver_postgresql", "psycopg", "pyarrow"),
    needs_bucket=False,
    docs="https://arrow.apache.org/adbc/current/driver/postgresql.html",
)
_MYSQL_NATIVE = NativeFacts(
    name="mysql",
    spark_format="dvt_bulk",
    group="",
    artifact="",
    releases={},
    bucket_types=("local",),
    python_extra="mysql",
    python_modules=("connectorx", "pymysql", "pyarrow"),
    needs_bucket=False,
    docs="https://mariadb.com/kb/en/load-data-infile/",
)

ADAPTERS: Mapping[str, AdapterFacts] = MappingProxyType(
    {
        facts.name: facts
        for facts in (
            AdapterFacts(
                name="postgres",
                kind="jdbc",
                url_template="jdbc:postgresql://{host}:{port}/{database}",
                default_port=5432,
                driver_class="org.postgresql.Driver",
                driver_packages=("org.postgresql:postgresql:42.7.4",),
                jdbc_properties={"reWriteBatchedInserts": "true"},
                native=_PG_NATIVE,
                catalog=_PG_CATALOG,
                required=("host", "user", "database"),
                aliases=_PG_ALIASES,
            ),
            AdapterFacts(
                name="mysql",
                kind="jdbc",
                url_template="jdbc:mysql://{host}:{port}/{database}",
                default_port=3306,
                driver_class="com.mysql.cj.jdbc.Driver",
                driver_packages=("com.mysql:mysql-connector-j:9.1.0",),
                quote="`",
                fetch_size=10_000,
                jdbc_properties={"useCursorFetch": "true", "rewriteBatchedStatements": "true"},
                native=_MYSQL_NATIVE,
                catalog=_MYSQL_CATALOG,
                required=("host", "user"),
                aliases={"pass": "password", "dbname": "database", "schema": "database"},
            ),
            AdapterFacts(
                name="mariadb",
                kind="jdbc",
                url_template="jdbc:mariadb://{host}:{port}/{database}",
                default_port=3306,
                driver_class="org.mariadb.jdbc.Driver",
                driver_packages=("org.mariadb.jdbc:mariadb-java-client:3.5.1",),
                quote="`",
                fetch_size=10_000,
                jdbc_properties={"useCursorFetch": "true", "rewriteBatchedStatements": "true"},
                native=_MYSQL_NATIVE,
                catalog=_MYSQL_CATALOG,
                required=("host", "user"),
                aliases={"pass": "password", "dbname": "database", "schema": "database"},
            ),
            AdapterFacts(
                name="sqlserver",
                kind="jdbc",
                url_template="jdbc:sqlserver://{host}:{port};databaseName={database}",
                default_port=1433,
                driver_class="com.microsoft.sqlserver.jdbc.SQLServerDriver",
                driver_packages=("com.microsoft.sqlserver:mssql-jdbc:12.8.1.jre11",),
                quote="[",
                catalog=CatalogQueries(default_schema="dbo"),
                required=("host", "user", "database"),
                aliases={"server": "host", "pass": "password", "username": "user", "UID": "user",
                         "PWD": "password"},
            ),
            AdapterFacts(
                name="oracle",
                kind="jdbc",
                url_template="jdbc:oracle:thin:@//{host}:{port}/{database}",
                default_port=1521,
                driver_class="oracle.jdbc.OracleDriver",
                driver_packages=("com.oracle.database.jdbc:ojdbc11:23.6.0.24.10",),
                required=("host", "user"),
                aliases={"pass": "password", "service": "database", "dbname": "database",
                         "username": "user"},
            ),
            AdapterFacts(
                name="snowflake",
                kind="jdbc",
                url_template="jdbc:snowflake://{account}.snowflakecomputing.com/",
                driver_class="net.snowflake.client.jdbc.SnowflakeDriver",
                driver_packages=("net.snowflake:snowflake-jdbc:3.20.0",),
                native=NativeFacts(
                    name="snowflake",
                    spark_format="net.snowflake.spark.snowflake",
                    group="net.snowflake",
                    artifact="spark-snowflake_{scala}",
                    # 3.x is one artifact for Spark 3.2-3.5 (Scala 2.12 and 2.13); from 3.2.0
                    # on, Spark 4 builds carry a `-spark_4.x` suffix and are Scala 2.13 only.
                    releases={"3.3": "3.1.7", "3.4": "3.1.7", "3.5": "3.1.7",
                              "4.0": "3.2.2-spark_4.0", "4.1": "3.2.2-spark_4.1"},
                    scala_binaries={"4.0": ("2.13",), "4.1": ("2.13",)},
                    bucket_types=("s3", "azure", "gcs"),
                    # the connector's POM declares snowflake-jdbc; nothing extra is needed
                    extra_packages=(),
                    docs="https://docs.snowflake.com/en/user-guide/spark-connector",
                    sources=(
                        "https://docs.snowflake.com/release-notes/clients-drivers/"
                        "spark-connector-2024 (3.x: one artifact for Spark 3.2-3.5)",
                        "https://index.scala-lang.org/snowflakedb/spark-snowflake (3.1.7, "
                        "Scala 2.12/2.13)",
                        "snowflakedb/spark-snowflake build.sbt (version "
                        "`<connector>-spark_<major.minor>`, Spark 3.5/4.0/4.1, Scala 2.13 "
                        "for 4.x)",
                        "https://github.com/snowflakedb/spark-snowflake/issues/607 (v3.2.0 "
                        "adds Spark 4.0 and 4.1)",
                    ),
                ),
                catalog=CatalogQueries(
                    # INFORMATION_SCHEMA.TABLES.ROW_COUNT (docs.snowflake.com/en/sql-reference/
                    # info-schema/tables), in the session's database
                    row_estimate=(
                        "SELECT ROW_COUNT FROM INFORMATION_SCHEMA.TABLES "
                        "WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {table}"
                    ),
                    default_schema="PUBLIC",
                ),
                required=("account", "user"),
                secret_fields=("private_key_path",),
            ),
            AdapterFacts(
                name="bigquery",
                kind="jdbc",
                url_template=None,
                driver_note=(
                    "Google's BigQuery JDBC driver (Simba) is not published on Maven Central: "
                    "download the driver zip from Google Cloud's BigQuery JDBC page and unzip "
                    "its jars into the jars folder (or publish them to your own Maven "
                    "repository and list them under `packages:`), or configure a GCS bucket so "
                    "the native spark-bigquery connector is used instead."
                ),
                quote="`",
                native=NativeFacts(
                    name="bigquery",
                    spark_format="bigquery",
                    group="com.google.cloud.spark",
                    artifact="spark-{spark}-bigquery",
                    # spark-4.0-bigquery since 0.43.0 (GA in 0.44.0), spark-4.1-bigquery since
                    # 0.44.0; both need Java 17.
                    releases={"3.5": "0.44.2", "4.0": "0.44.2", "4.1": "0.44.2"},
                    bucket_types=("gcs",),
                    docs="https://github.com/GoogleCloudDataproc/spark-bigquery-connector",
                    sources=(
                        "GoogleCloudDataproc/spark-bigquery-connector CHANGES.md (0.35.0 adds "
                        "spark-3.5-bigquery, 0.43.0 spark-4.0-bigquery, 0.44.0 "
                        "spark-4.1-bigquery; 0.44.2 released 2026-05-20)",
                    ),
                ),
                required=("project",),
                aliases={"dataset": "schema", "database": "project"},
                secret_fields=("keyfile",),
            ),
            AdapterFacts(
                name="redshift",
                kind="jdbc",
                url_template="jdbc:redshift://{host}:{port}/{database}",
                default_port=5439,
                driver_class="com.amazon.redshift.jdbc42.Driver",
                driver_packages=("com.amazon.redshift:redshift-jdbc42:2.1.0.30",),
                native=NativeFacts(
                    name="redshift",
                    spark_format="io.github.spark_redshift_community.spark.redshift",
                    group="io.github.spark-redshift-community",
                    artifact="spark-redshift_{scala}",
                    releases={"3.3": "6.7.0-spark_3.3", "3.4": "6.7.0-spark_3.4",
                              "3.5": "6.7.0-spark_3.5", "4.0": "6.6.1-spark_4.0",
                              "4.1": "6.7.0-spark_4.1"},
                    # Spark 3.x builds are published for Scala 2.12 only, 4.x for 2.13 only
                    scala_binaries={"3.3": ("2.12",), "3.4": ("2.12",), "3.5": ("2.12",),
                                    "4.0": ("2.13",), "4.1": ("2.13",)},
                    bucket_types=("s3",),
                    # the JDBC driver is not a compile dependency of the connector
                    extra_packages=("com.amazon.redshift:redshift-jdbc42:2.1.0.30",),
                    docs="https://github.com/spark-redshift-community/spark-redshift",
                    sources=(
                        "https://index.scala-lang.org/spark_redshift_community/spark.redshift "
                        "(6.7.0-spark_3.3/3.4/3.5 Scala 2.12; 6.6.1-spark_4.0 and "
                        "6.7.0-spark_4.1 Scala 2.13)",
                    ),
                ),
                catalog=CatalogQueries(
                    row_estimate=(
                        'SELECT tbl_rows FROM svv_table_info WHERE "schema" = {schema} '
                        'AND "table" = {table}'
                    ),
                    default_schema="public",
                ),
                required=("host", "user", "database"),
                aliases=_PG_ALIASES,
            ),
            AdapterFacts(
                name="db2",
                kind="jdbc",
                url_template="jdbc:db2://{host}:{port}/{database}",
                default_port=50000,
                driver_class="com.ibm.db2.jcc.DB2Driver",
                driver_packages=("com.ibm.db2:jcc:11.5.9.0",),
                required=("host", "user", "database"),
                aliases={"pass": "password"},
            ),
            AdapterFacts(
                name="trino",
                kind="jdbc",
                url_template="jdbc:trino://{host}:{port}/{database}",
                default_port=8080,
                driver_class="io.trino.jdbc.TrinoDriver",
                driver_packages=("io.trino:trino-jdbc:465",),
                required=("host",),
                aliases={"catalog": "database"},
            ),
            AdapterFacts(
                name="clickhouse",
                kind="jdbc",
                url_template="jdbc:clickhouse://{host}:{port}/{database}",
                default_port=8123,
                driver_class="com.clickhouse.jdbc.ClickHouseDriver",
                driver_packages=("com.clickhouse:clickhouse-jdbc:0.7.1",),
                quote="`",
                required=("host",),
                aliases={"pass": "password"},
            ),
            AdapterFacts(
                name="databricks",
                kind="jdbc",
                url_template="jdbc:databricks://{host}:443/default;transportMode=http;ssl=1;"
                "httpPath={http_path};AuthMech=3;UID=token",
                driver_class="com.databricks.client.jdbc.Driver",
                driver_packages=("com.databricks:databricks-jdbc:2.6.40",),
                quote="`",
                required=("host", "http_path"),
            ),
            AdapterFacts(
                name="sqlite",
                kind="jdbc",
                url_template="jdbc:sqlite:{path}",
                driver_class="org.sqlite.JDBC",
                driver_packages=("org.xerial:sqlite-jdbc:3.47.1.0",),
                required=("path",),
                aliases={"database": "path"},
            ),
            AdapterFacts(
                name="duckdb",
                kind="jdbc",
                url_template="jdbc:duckdb:{path}",
                driver_class="org.duckdb.DuckDBDriver",
                driver_packages=("org.duckdb:duckdb_jdbc:1.1.3",),
                required=("path",),
                aliases={"database": "path"},
            ),
            AdapterFacts(
                name="derby",
                kind="jdbc",
                url_template="jdbc:derby:{path};create=true",
                driver_class="org.apache.derby.jdbc.EmbeddedDriver",
                bundled_with_spark=True,
                catalog=CatalogQueries(default_schema="APP"),
                required=("path",),
                aliases={"database": "path"},
            ),
            AdapterFacts(
                name="jdbc",
                kind="jdbc",
                driver_note=(
                    "The generic `jdbc` type has no driver of its own: list the driver's Maven "
                    "coordinates under `packages:` in the output (for example "
                    "`packages: [org.hsqldb:hsqldb:2.7.4]`) and `dvt sync` fetches them."
                ),
                required=("url", "driver"),
            ),
            AdapterFacts(
                name="files",
                kind="files",
                required=("path",),
                aliases={"location": "path"},
            ),
        )
    }
)

# Hadoop filesystems for staging buckets, by bucket type.
FILESYSTEMS: Mapping[str, FilesystemFacts] = MappingProxyType(
    {
        facts.type: facts
        for facts in (
            FilesystemFacts(
                type="s3",
                scheme="s3a",
                # hadoop-aws must be the exact Hadoop version Spark ships; its POM declares the
                # AWS SDK v2 `software.amazon.awssdk:bundle` it was built with.
                packages=("org.apache.hadoop:hadoop-aws:{hadoop}",),
                docs="https://hadoop.apache.org/docs/stable/hadoop-aws/tools/hadoop-aws/",
                sources=("https://hadoop.apache.org/release/3.4.3.html (the SDK bundle is "
                         "declared by hadoop-aws, not shipped)",),
            ),
            FilesystemFacts(
                type="gcs",
                scheme="gs",
                # the shaded jar bundles the Google client libraries its POM lists
                packages=("com.google.cloud.bigdataoss:gcs-connector:3.1.7:shaded",),
                transitive=False,
                docs="https://github.com/GoogleCloudDataproc/hadoop-connectors",
                sources=("https://central.sonatype.com/artifact/com.google.cloud.bigdataoss/"
                         "gcs-connector (3.1.7)",
                         "GoogleCloudDataproc/hadoop-connectors gcs/CHANGES.md (3.x: Hadoop "
                         "3 only)"),
            ),
            FilesystemFacts(
                type="azure",
                scheme="abfss",
                packages=("org.apache.hadoop:hadoop-azure:{hadoop}",),
                docs="https://hadoop.apache.org/docs/stable/hadoop-azure/abfs.html",
            ),
            FilesystemFacts(type="local", scheme="file"),
        )
    }
)

# Other spellings users write for an adapter type.
TYPE_ALIASES: Mapping[str, str] = MappingProxyType(
    {"postgresql": "postgres", "mssql": "sqlserver", "fabric": "sqlserver", "file": "files"}
)


def adapter(type_name: str) -> AdapterFacts:
    """Facts for an adapter type; an unknown type lists the valid ones."""
    key = TYPE_ALIASES.get(type_name.lower(), type_name.lower())
    try:
        return ADAPTERS[key]
    except KeyError:
        raise NotFoundError("adapter type", type_name, ADAPTERS) from None
