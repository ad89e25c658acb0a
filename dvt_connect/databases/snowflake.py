"""Snowflake: JDBC, and the spark-snowflake connector staging through a bucket
(:mod:`dvt_connect.connectors.snowflake`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dvt_connect.databases.connection import Connection, Fail
from dvt_connect.databases.spec import (
    SPARK_SUFFIX,
    CatalogQueries,
    Database,
    Dialect,
    Endpoint,
    ErrorRules,
    NamingRule,
    NativeFacts,
    StageFacts,
    Swap,
    TypeMap,
    TypeRule,
)

AUTH_METHODS = ("password", "private_key_path", "private_key", "authenticator")


@dataclass(frozen=True, repr=False)
class SnowflakeConnection(Connection):
    """A Snowflake output: account-addressed; password, key pair or OAuth."""

    @classmethod
    def validate(cls, values: dict[str, Any], extra: dict[str, Any], fail: Fail) -> None:
        if not any(values.get(m) or extra.get(m) for m in AUTH_METHODS):
            raise fail(
                "snowflake needs one way to authenticate: `password`, `private_key_path`, "
                "`private_key` or `authenticator`.", "password",
            )
        if str(extra.get("authenticator", "")).lower() == "oauth" and not extra.get("token"):
            raise fail("`authenticator: oauth` needs a `token`.", "token")

    def type_properties(self) -> dict[str, str]:
        props: dict[str, str] = {}
        if self.account:
            for key in ("warehouse", "role", "database", "schema"):
                value = getattr(self, key)
                if value:
                    props[key if key != "database" else "db"] = value
        return props

    @property
    def authenticator(self) -> str:
        return str(self.extra.get("authenticator") or "").lower()

    @property
    def token(self) -> str | None:
        return self.extra.get("token")

    @property
    def private_key_path(self) -> str | None:
        return self.extra.get("private_key_path")

    @property
    def private_key(self) -> str | None:
        return self.extra.get("private_key")

    @property
    def private_key_passphrase(self) -> str | None:
        return self.extra.get("private_key_passphrase")


NATIVE = NativeFacts(
    name="snowflake",
    spark_format="net.snowflake.spark.snowflake",
    group="net.snowflake",
    artifact="spark-snowflake_{scala}",
    # 3.x is one artifact for Spark 3.2-3.5 (Scala 2.12 and 2.13); from 3.2.0
    # on, Spark 4 builds carry a `-spark_4.x` suffix and are Scala 2.13 only.
    naming=NamingRule(version_suffix=SPARK_SUFFIX,
                      unsuffixed={"3": ("3.2", "3.3", "3.4", "3.5")}),
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
)

# Source types: Spark type, exact or lossy and why.
TYPES = TypeMap(rules=(
    TypeRule(("number", "decimal", "numeric"), "decimal(p,s)", why="up to 38 digits, as Spark"),
    TypeRule(("float", "double", "real"), "double"),
    TypeRule(("varchar", "char", "string", "text"), "string"),
    TypeRule(("binary", "varbinary"), "binary"), TypeRule(("boolean",), "boolean"),
    TypeRule(("date",), "date"),
    TypeRule(("timestamp_ntz", "datetime"), "timestamp_ntz", why="a wall time"),
    TypeRule(("timestamp_ltz", "timestamp_tz"), "timestamp",
             why="an instant (TIMESTAMP_TZ's offset is not kept)"),
    TypeRule(("time",), "string", exact=False, why="Spark has no time of day type"),
    TypeRule(("variant", "object", "array", "geography", "geometry"),
             "string (canonical text)", why="semi-structured values as their JSON text"),
))

# The stage-native path: COPY INTO <location> unloads, COPY INTO <table> loads (no Spark jar).
STAGE = StageFacts(
    # COPY INTO { externalLocation } FROM ( <query> ) FILE_FORMAT = ( TYPE = PARQUET ) HEADER
    unload=("COPY INTO '{uri}' FROM ({select}){auth} FILE_FORMAT = (TYPE = PARQUET) "
            "HEADER = TRUE"),
    # COPY INTO <table> FROM externalLocation FILE_FORMAT = ( TYPE = PARQUET )
    # MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE (Parquet columns by name, not position)
    load=("COPY INTO {table} FROM '{uri}'{auth} FILE_FORMAT = (TYPE = PARQUET) "
          "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"),
    # externalLocation: 's3://<bucket>[/<path>]', 'gcs://<bucket>[/<path>]' or
    # 'azure://<account>.blob.core.windows.net/<container>[/<path>]'
    schemes={"s3": "s3", "gcs": "gcs", "azure": "azure"},
    auth_integration=" STORAGE_INTEGRATION = {integration}",
    auth_keys=" CREDENTIALS = (AWS_KEY_ID = '{key_id}' AWS_SECRET_KEY = '{secret}'{token_clause})",
    auth_token=" AWS_TOKEN = '{token}'",
    auth_sas=" CREDENTIALS = (AZURE_SAS_TOKEN = '{sas}')",
    types=TypeMap(rules=(
        TypeRule(("number", "decimal", "numeric"), "decimal(p,s)",
                 why="a Parquet decimal of the column's precision and scale (38 digits, as "
                     "Spark)"),
        TypeRule(("float", "double", "real"), "double"),
        TypeRule(("varchar", "char", "string", "text"), "string"),
        TypeRule(("binary", "varbinary"), "binary"), TypeRule(("boolean",), "boolean"),
        TypeRule(("date",), "date"),
        TypeRule(("timestamp_ntz", "timestampntz", "datetime"), "timestamp_ntz",
                 why="a wall time (a Parquet timestamp not adjusted to UTC)"),
        TypeRule(("timestamp_ltz", "timestampltz"), "timestamp",
                 why="an instant (a Parquet timestamp adjusted to UTC)"),
        TypeRule(("timestamp_tz", "timestamptz"), "timestamp", exact=False,
                 why="a Parquet timestamp holds no offset: each value's own offset is lost"),
        TypeRule(("time",), "string", exact=False,
                 why="unloaded as a Parquet TIME, which Spark does not read"),
        TypeRule(("variant", "object", "array"), "string",
                 why="semi-structured values unload as their JSON text"),
    )),
    sources=(
        "https://docs.snowflake.com/en/sql-reference/sql/copy-into-location (externalLocation, "
        "STORAGE_INTEGRATION | CREDENTIALS = (AWS_KEY_ID AWS_SECRET_KEY [AWS_TOKEN]) | "
        "CREDENTIALS = (AZURE_SAS_TOKEN) for 'azure://<account>.blob.core.windows.net/...', "
        "FILE_FORMAT = (TYPE = PARQUET), HEADER)",
        "https://docs.snowflake.com/en/sql-reference/sql/copy-into-table (FILE_FORMAT = "
        "(TYPE = PARQUET), MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE)",
    ),
)

# Tables dvt creates (the staging table of a stage-native load) and how one replaces the target.
# Snowflake commits each DDL statement by itself, so a drop-and-rename is not atomic there;
# ALTER TABLE ... SWAP WITH exchanges the two tables in one statement
# (docs.snowflake.com/en/sql-reference/sql/alter-table), and the staging table, then holding
# the previous rows, is dropped after. TIMESTAMP is TIMESTAMP_NTZ under Snowflake's default
# TIMESTAMP_TYPE_MAPPING, so the type is spelled out.
DIALECT = Dialect(
    name="snowflake",
    title="Snowflake",
    types={
        "boolean": "BOOLEAN", "byte": "NUMBER(3,0)", "short": "NUMBER(5,0)",
        "integer": "NUMBER(10,0)", "long": "NUMBER(19,0)", "float": "FLOAT", "double": "FLOAT",
        "decimal": "NUMBER({p},{s})", "varchar": "VARCHAR({n})", "char": "VARCHAR({n})",
        "binary": "BINARY", "date": "DATE", "timestamp": "TIMESTAMP_NTZ",
        "timestamp_ntz": "TIMESTAMP_NTZ",
    },
    text_ladder=((None, "VARCHAR"),),
    varchar_limit=16_777_216,
    instants_as_utc_wall=True,
    max_precision=38,
    max_identifier=255,
    swap=Swap(
        replace=("ALTER TABLE {stage} SWAP WITH {target}",),
        create=("ALTER TABLE {stage} RENAME TO {target}",),
        after=("DROP TABLE {stage}",),
        transactional=False,
        how="swapped with the target in one statement (ALTER TABLE … SWAP WITH); Snowflake "
            "commits each DDL statement by itself",
    ),
)

SNOWFLAKE = Database(
    name="snowflake",
    types=TYPES,
    kind="jdbc",
    url_template="jdbc:snowflake://{account}.snowflakecomputing.com/",
    driver_class="net.snowflake.client.jdbc.SnowflakeDriver",
    driver_packages=("net.snowflake:snowflake-jdbc:3.20.0",),
    ddl=DIALECT,
    native=NATIVE,
    stage=STAGE,
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
    connection=SnowflakeConnection,
    errors=ErrorRules(product="Snowflake"),
    endpoint=Endpoint(port=443),  # HTTPS
)

DATABASES = (SNOWFLAKE,)
