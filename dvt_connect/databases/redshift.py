"""Amazon Redshift: JDBC (PostgreSQL-like), and the spark-redshift connector staging through
S3 (:mod:`dvt_connect.connectors.redshift`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dvt_connect.databases.connection import Fail
from dvt_connect.databases.postgres import ALIASES, PostgresConnection
from dvt_connect.databases.spec import (
    SPARK_SUFFIX,
    CatalogQueries,
    Database,
    ErrorRules,
    NamingRule,
    NativeFacts,
    StageFacts,
    TypeMap,
    TypeRule,
)


@dataclass(frozen=True, repr=False)
class RedshiftConnection(PostgresConnection):
    """A Redshift output: PostgreSQL's fields, plus dbt's IAM method."""

    @classmethod
    def validate(cls, values: dict[str, Any], extra: dict[str, Any], fail: Fail) -> None:
        if values.get("method") == "iam" and not extra.get("cluster_id"):
            raise fail("`method: iam` needs `cluster_id`.", "cluster_id")


NATIVE = NativeFacts(
    name="redshift",
    spark_format="io.github.spark_redshift_community.spark.redshift",
    group="io.github.spark-redshift-community",
    artifact="spark-redshift_{scala}",
    naming=NamingRule(version_suffix=SPARK_SUFFIX),
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
)

# Source types: Spark type, exact or lossy and why.
TYPES = TypeMap(rules=(
    TypeRule(("int2",), "short"), TypeRule(("int4",), "integer"), TypeRule(("int8",), "long"),
    TypeRule(("float4",), "float"), TypeRule(("float8",), "double"),
    TypeRule(("numeric",), "decimal(p,s)", why="up to 38 digits, as Spark"),
    TypeRule(("bool",), "boolean"),
    TypeRule(("varchar", "bpchar", "text"), "string"),
    TypeRule(("varbyte",), "binary"), TypeRule(("date",), "date"),
    TypeRule(("timestamp",), "timestamp_ntz", why="a wall time"),
    TypeRule(("timestamptz",), "timestamp", why="an instant"),
    TypeRule(("time", "timetz"), "timestamp_ntz (1970-01-01)", exact=False,
             why="Spark's JDBC source reads times with millisecond precision"),
    TypeRule(("super", "geometry"), "string (canonical text)", why="carried as its text"),
))

# The stage-native path: UNLOAD writes Parquet to S3, COPY loads it (no Spark jar).
STAGE = StageFacts(
    # UNLOAD ('select-statement') TO 's3://object-path/name-prefix' authorization
    # FORMAT [ AS ] PARQUET
    unload="UNLOAD ({select_literal}) TO '{uri}'{auth} FORMAT AS PARQUET",
    # COPY table-name FROM data_source authorization FORMAT AS PARQUET (columnar files load by
    # position: the staging table is created in the files' column order)
    load="COPY {table} FROM '{uri}'{auth} FORMAT AS PARQUET",
    schemes={"s3": "s3"},
    # authorization: IAM_ROLE '<arn>' | ACCESS_KEY_ID '..' SECRET_ACCESS_KEY '..'
    # [SESSION_TOKEN '..']
    auth_role=" IAM_ROLE '{role}'",
    auth_keys=" ACCESS_KEY_ID '{key_id}' SECRET_ACCESS_KEY '{secret}'{token_clause}",
    auth_token=" SESSION_TOKEN '{token}'",
    types=TypeMap(rules=(
        TypeRule(("int2", "smallint"), "short"), TypeRule(("int4", "integer"), "integer"),
        TypeRule(("int8", "bigint"), "long"), TypeRule(("float4", "real"), "float"),
        TypeRule(("float8", "double precision"), "double"),
        TypeRule(("numeric", "decimal"), "decimal(p,s)",
                 why="a Parquet decimal of the column's precision and scale"),
        TypeRule(("bool", "boolean"), "boolean"),
        TypeRule(("varchar", "bpchar", "text", "character varying"), "string"),
        TypeRule(("varbyte",), "binary"), TypeRule(("date",), "date"),
        TypeRule(("timestamp",), "timestamp_ntz", why="a wall time"),
        TypeRule(("timestamptz",), "timestamp", why="an instant, in UTC"),
        TypeRule(("time", "timetz"), "string", exact=False,
                 why="UNLOAD writes a Parquet time of day, which Spark does not read"),
        TypeRule(("super", "geometry"), "string", exact=False,
                 why="UNLOAD's Parquet form of SUPER/GEOMETRY is not part of the contract"),
    )),
    sources=(
        "https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html (UNLOAD ('select') "
        "TO 's3://...' authorization FORMAT [AS] PARQUET)",
        "https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-authorization.html "
        "(IAM_ROLE | ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN])",
        "https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html (FORMAT AS PARQUET)",
    ),
)

REDSHIFT = Database(
    name="redshift",
    types=TYPES,
    kind="jdbc",
    url_template="jdbc:redshift://{host}:{port}/{database}",
    default_port=5439,
    driver_class="com.amazon.redshift.jdbc42.Driver",
    driver_packages=("com.amazon.redshift:redshift-jdbc42:2.1.0.30",),
    native=NATIVE,
    stage=STAGE,
    catalog=CatalogQueries(
        row_estimate=(
            'SELECT tbl_rows FROM svv_table_info WHERE "schema" = {schema} '
            'AND "table" = {table}'
        ),
        default_schema="public",
    ),
    required=("host", "user", "database"),
    aliases=ALIASES,
    connection=RedshiftConnection,
    errors=ErrorRules(product="Redshift", message_prefixes=(r"\[Amazon\]\[\w+\] \(\d+\) ",
                                                            r"(?:ERROR|FATAL): ")),
    # ddl: the generic dialect (no transactional rename guarantees checked for Redshift)
)

DATABASES = (REDSHIFT,)
