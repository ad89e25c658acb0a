"""MySQL and MariaDB: one family (same DDL, error codes, catalog; a "schema" is a database),
two drivers, and the Arrow bulk path (ConnectorX reads, LOAD DATA LOCAL INFILE writes;
:mod:`dvt_connect.connectors.mysql_native`)."""

from __future__ import annotations

from dataclasses import replace

from dvt_connect.databases.spec import (
    CatalogQueries,
    Checksum,
    Database,
    Dialect,
    ErrorRules,
    Lock,
    LossyRead,
    Merge,
    NativeFacts,
    Swap,
    TypeMap,
    TypeRule,
)

# java.sql.Types.REAL, FLOAT
_REAL, _FLOAT = 7, 6

CATALOG = CatalogQueries(
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
    unique_keys=(
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {table} AND NON_UNIQUE = 0 "
        "ORDER BY INDEX_NAME, SEQ_IN_INDEX"
    ),
)

TRANSIENT_CODES = frozenset({
    1040,  # too many connections
    1053,  # server shutdown in progress
    1152, 1158, 1159, 1160, 1161,  # aborted connection, network read/write errors
    1205,  # lock wait timeout exceeded
    1213,  # deadlock found when trying to get lock
    1927,  # connection was killed (MariaDB)
    2002, 2003, 2005,  # can't connect (socket, TCP, unknown host while DNS flaps)
    2006,  # server has gone away
    2013,  # lost connection to server during query
    2055,  # lost connection (system error)
})
TERMINAL_CODES = frozenset({
    1044, 1045,  # access denied (database, user/password)
    1049,  # unknown database
    1054,  # unknown column
    1064,  # syntax error
    1142, 1143,  # command / column denied
    1146,  # table doesn't exist
    1317,  # query execution was interrupted (KILL QUERY, max_statement_time)
    3024,  # max_execution_time exceeded
})
CODE_KINDS = {1044: "auth", 1045: "auth", 1049: "database", 1146: "query", 1054: "query",
              1064: "query"}
PREFIXES = (r"Could not connect to address=\S+ : ", r"\(conn=\d+\) ")

DIALECT = Dialect(
    name="mysql",
    title="MySQL/MariaDB",
    types={
        "boolean": "BOOLEAN",
        "byte": "TINYINT",
        "short": "SMALLINT",
        "integer": "INT",
        "long": "BIGINT",
        # The server sends FLOAT columns as text rounded to 6 significant digits
        # (3.1415927 reads back as 3.14159); DOUBLE holds every float exactly.
        "float": "DOUBLE",
        "double": "DOUBLE",
        "decimal": "DECIMAL({p},{s})",
        "varchar": "VARCHAR({n})",
        # CHAR strips trailing spaces on read; VARCHAR keeps a padded value as it was.
        "char": "VARCHAR({n})",
        "binary": "LONGBLOB",
        "date": "DATE",
        "timestamp": "DATETIME(6)",
        "timestamp_ntz": "DATETIME(6)",
        "time": "TIME(6)",
    },
    text_ladder=((16_383, "TEXT"), (4_194_303, "MEDIUMTEXT"), (None, "LONGTEXT")),
    varchar_limit=1_024,
    varchar_row_budget=60_000,
    bytes_per_char=4,
    max_precision=65,
    max_scale=38,
    max_identifier=64,
    table_options=" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    # Measured on MariaDB 10.11, 5M rows of the bench table: two LOAD DATA of disjoint key
    # ranges at once took 12.6-16.2 s against 20.3-24.5 s for one after the other; into a table
    # without a key, 19.4-20.4 s against 21.5-23.7 s (InnoDB's hidden row id puts every insert
    # on the table's last page).
    keeps_source_key=("InnoDB stores rows in primary-key order, the loading tasks write their "
                      "key ranges at once, and replication (row-based binlog, Galera, "
                      "sql_require_primary_key) wants a key"),
    instant_comment="UTC",
    instants_as_utc_wall=True,
    holds_nan=False,
    swap=Swap(
        replace=("RENAME TABLE {target} TO {old}, {stage} TO {target}",),
        create=("RENAME TABLE {stage} TO {target}",),
        after=("DROP TABLE {old}",),
        transactional=False,
        how="swapped by one atomic RENAME TABLE",
    ),
    # Updates on a conflict with *any* unique key of the target: the merge checks that the key
    # is one, and says so when the target has others.
    merge=Merge(
        statements=("INSERT INTO {target} ({columns}) SELECT {stage_columns} FROM {stage} "
                    "ON DUPLICATE KEY UPDATE {set}",),
        insert_only=("INSERT IGNORE INTO {target} ({columns}) SELECT {stage_columns} "
                     "FROM {stage}",),
        set_item="{col} = VALUES({col})",
        how="INSERT ... ON DUPLICATE KEY UPDATE in one transaction",
        any_unique_key=True,
    ),
    # TRUNCATE TABLE commits by itself (it is DDL); DELETE is rolled back with the insert.
    truncate=("DELETE FROM {target}",),
    lock=Lock(try_acquire="SELECT GET_LOCK({key}, 0)", release="SELECT RELEASE_LOCK({key})",
              how="MySQL/MariaDB GET_LOCK"),
)

NATIVE = NativeFacts(
    name="mysql",
    spark_format="dvt_bulk",
    group="",
    artifact="",
    releases={},
    bucket_types=("local",),
    python_extra="mysql",
    python_modules=("connectorx", "pymysql", "pyarrow"),
    needs_bucket=False,
    driver_module="dvt_connect.connectors.mysql_native.driver",
    docs="https://mariadb.com/kb/en/load-data-infile/",
)

# Source types. TINYINT(1) is a number (the driver's tinyInt1isBit is off): 5 stays 5.
TYPES = TypeMap(rules=(
    TypeRule(("tinyint", "tinyint unsigned", "smallint", "smallint unsigned", "mediumint",
              "mediumint unsigned", "int", "integer", "int unsigned", "integer unsigned",
              "bigint"), "the next integer wide enough",
             why="TINYINT(1) too: read as a number, never as a boolean"),
    TypeRule(("bigint unsigned",), "decimal(20,0)", why="unsigned 64-bit widened"),
    TypeRule(("float", "float unsigned"), "float", exact=False,
             why="the server sends FLOAT values rounded to 6 significant digits"),
    TypeRule(("double", "double unsigned", "real"), "double"),
    TypeRule(("decimal", "decimal unsigned", "numeric"), "string (the number's text)",
             exact=False, wide=True,
             why="more than 38 digits: Spark's decimal holds 38, so it would cut the scale",
             declared="decimal({p},{s})", same_read_as="string"),
    TypeRule(("decimal", "decimal unsigned", "numeric"), "decimal(p,s)"),
    TypeRule(("bit",), "binary", exact=False,
             why="BIT(n) arrives as driver bytes; select `col + 0` in --query for its number"),
    TypeRule(("boolean", "bool"), "boolean"),
    TypeRule(("varchar",), "string", declared="varchar({p})"),
    TypeRule(("char", "text", "tinytext", "mediumtext", "longtext", "json", "enum", "set"),
             "string", why="JSON, ENUM and SET travel as their text"),
    TypeRule(("binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob"), "binary"),
    TypeRule(("date",), "date"),
    TypeRule(("datetime",), "timestamp_ntz", why="a wall time stays a wall time"),
    TypeRule(("timestamp",), "timestamp", why="an instant stays an instant (UTC)"),
    TypeRule(("time",), "string (canonical text)", read_as="string",
             why="TIME is a duration up to 838 hours: carried as its text"),
    TypeRule(("year",), "integer", read_as="int", why="YEAR as its number, not a date"),
))

_LOSSY_FLOAT = (
    "column `{name}` is {type_name}: the server sends FLOAT values rounded to 6 significant "
    "digits. Cast it to DOUBLE in --query to read every digit.")


# MySQL's DECIMAL holds at most 30 places (MariaDB's 38): a wider scale is refused at plan time,
# naming the column, rather than failing in CREATE TABLE.
MYSQL_DIALECT = replace(DIALECT, name="mysql-server", title="MySQL", max_scale=30)


# --verify checksum: the first 32 bits of the MD5 of each value's canonical text; instants are
# stored as their UTC wall time (DATETIME)
CHECKSUM = Checksum(
    hash="CAST(CONV(SUBSTRING(MD5({text}), 1, 8), 16, 10) AS UNSIGNED)",
    text={
        "integer": "CAST({col} AS CHAR)",
        "decimal": "CAST(CAST({col} AS DECIMAL({p}, {s})) AS CHAR)",
        "string": "{col}",
        "boolean": "CASE WHEN {col} THEN '1' ELSE '0' END",
        "date": "DATE_FORMAT({col}, '%Y-%m-%d')",
        "timestamp": "DATE_FORMAT({col}, '%Y-%m-%d %H:%i:%s.%f')",
        "binary": "{col}",
    },
)


def _family(name: str, product: str, url: str, driver: str, package: str,
            ddl: Dialect = DIALECT) -> Database:
    return Database(
        name=name,
        kind="jdbc",
        url_template=url,
        default_port=3306,
        driver_class=driver,
        driver_packages=(package,),
        quote="`",
        fetch_size=10_000,
        # tinyInt1isBit: TINYINT(1) is a number (both drivers read it as a boolean by default)
        jdbc_properties={"useCursorFetch": "true", "rewriteBatchedStatements": "true",
                         "tinyInt1isBit": "false"},
        native=NATIVE,
        catalog=CATALOG,
        required=("host", "user"),
        aliases={"pass": "password", "dbname": "database", "schema": "database"},
        errors=ErrorRules(product=product, transient_codes=TRANSIENT_CODES,
                          terminal_codes=TERMINAL_CODES, message_prefixes=PREFIXES,
                          code_kinds=CODE_KINDS),
        ddl=ddl,
        lossy_reads=(LossyRead(_REAL, _LOSSY_FLOAT), LossyRead(_FLOAT, _LOSSY_FLOAT)),
        wall_times_via_instants=("datetime",),
        types=TYPES,
        schema_is_catalog=True,
        checksum=CHECKSUM,
    )


MYSQL = _family("mysql", "MySQL", "jdbc:mysql://{host}:{port}/{database}",
                "com.mysql.cj.jdbc.Driver", "com.mysql:mysql-connector-j:9.1.0",
                ddl=MYSQL_DIALECT)
MARIADB = _family("mariadb", "MariaDB", "jdbc:mariadb://{host}:{port}/{database}",
                  "org.mariadb.jdbc.Driver", "org.mariadb.jdbc:mariadb-java-client:3.5.1")

DATABASES = (MYSQL, MARIADB)
