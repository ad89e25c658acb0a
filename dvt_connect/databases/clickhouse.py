"""ClickHouse over its JDBC driver: the whole database in one module (the worked example of
docs/architecture.md, "How to add a database").

Columns are NOT NULL unless declared ``Nullable(T)``; a table needs an engine (``MergeTree``
with no sorting key keeps rows as written); DDL is not transactional, so the stage replaces the
target by one atomic ``EXCHANGE TABLES``. Vendor codes are the server's own error codes
(``Code: 60. DB::Exception: ...``).
"""

from __future__ import annotations

from dvt_connect.databases.spec import CatalogQueries, Database, Dialect, ErrorRules, Swap

DIALECT = Dialect(
    name="clickhouse",
    title="ClickHouse",
    types={
        "boolean": "Bool",
        "byte": "Int8",
        "short": "Int16",
        "integer": "Int32",
        "long": "Int64",
        "float": "Float32",
        "double": "Float64",
        "decimal": "Decimal({p},{s})",
        "varchar": "String",
        "char": "String",
        "binary": "String",
        "date": "Date32",
        "timestamp": "DateTime64(6, 'UTC')",
        "timestamp_ntz": "DateTime64(6)",
    },
    # String holds any length; declared lengths are not kept
    text_ladder=((None, "String"),),
    varchar_limit=0,
    max_precision=76,
    max_identifier=200,
    nullable_type="Nullable({type})",
    table_options=" ENGINE = MergeTree ORDER BY tuple()",
    swap=Swap(
        replace=("EXCHANGE TABLES {stage} AND {target}", "RENAME TABLE {stage} TO {old}"),
        create=("RENAME TABLE {stage} TO {target}",),
        after=("DROP TABLE {old}",),
        transactional=False,
        how="exchanged with the target by one atomic EXCHANGE TABLES",
    ),
    # No transactions: the rows are gone before the new ones are in.
    truncate=("TRUNCATE TABLE {target}",),
    truncate_atomic=False,
)

ERRORS = ErrorRules(
    product="ClickHouse",
    transient_codes=frozenset({
        3, 32,  # unexpected end of file, read after EOF: the connection broke
        202,  # too many simultaneous queries
        209, 210,  # socket timeout, network error
        242,  # table is read-only (a replica lost its keeper session)
        252,  # too many parts: inserts outpace merges for a moment
        319,  # unknown status of insert
        425,  # system error
        999,  # keeper exception
    }),
    terminal_codes=frozenset({
        47,  # unknown identifier (column)
        60,  # unknown table
        62,  # syntax error
        81,  # unknown database
        159,  # timeout exceeded (max_execution_time): the re-run would too
        164,  # readonly user
        192, 193, 194, 516,  # unknown user, wrong password, password required, auth failed
        394,  # query was cancelled
        497,  # access denied
    }),
    code_kinds={192: "auth", 193: "auth", 194: "auth", 516: "auth", 81: "database",
                47: "query", 60: "query", 62: "query", 497: "query"},
    message_prefixes=(r"Code: \d+\. DB::Exception: ",),
)

CLICKHOUSE = Database(
    name="clickhouse",
    kind="jdbc",
    url_template="jdbc:clickhouse://{host}:{port}/{database}",
    default_port=8123,
    driver_class="com.clickhouse.jdbc.ClickHouseDriver",
    driver_packages=("com.clickhouse:clickhouse-jdbc:0.7.1",),
    quote="`",
    required=("host",),
    aliases={"pass": "password"},
    catalog=CatalogQueries(
        row_estimate=("SELECT total_rows FROM system.tables "
                      "WHERE database = {schema} AND name = {table}"),
        primary_key=("SELECT name FROM system.columns WHERE database = {schema} "
                     "AND table = {table} AND is_in_primary_key = 1 ORDER BY position"),
        default_schema="default",
    ),
    errors=ERRORS,
    ddl=DIALECT,
)

DATABASES = (CLICKHOUSE,)
