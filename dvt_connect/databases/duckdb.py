"""DuckDB over its JDBC driver: a database in one local file."""

from __future__ import annotations

from dvt_connect.databases.connection import PathConnection
from dvt_connect.databases.postgres import RENAME_SWAP
from dvt_connect.databases.spec import Database, Dialect, TypeMap, TypeRule

DIALECT = Dialect(
    name="duckdb",
    title="DuckDB",
    types={
        "boolean": "BOOLEAN",
        "byte": "TINYINT",
        "short": "SMALLINT",
        "integer": "INTEGER",
        "long": "BIGINT",
        "float": "REAL",
        "double": "DOUBLE",
        "decimal": "DECIMAL({p},{s})",
        "varchar": "VARCHAR",
        "char": "VARCHAR",
        "binary": "BLOB",
        "date": "DATE",
        "timestamp": "TIMESTAMPTZ",
        "timestamp_ntz": "TIMESTAMP",
        "time": "TIME",
    },
    text_ladder=((None, "VARCHAR"),),
    varchar_limit=0,
    max_precision=38,
    max_identifier=1_000,
    swap=RENAME_SWAP,
)

# Source types: Spark type, exact or lossy and why.
TYPES = TypeMap(rules=(
    TypeRule(("tinyint", "smallint", "integer", "bigint"), "the same integer"),
    TypeRule(("utinyint", "usmallint", "uinteger"), "the next wider integer"),
    TypeRule(("ubigint",), "decimal(20,0)"),
    TypeRule(("hugeint", "uhugeint"), "decimal(38,0)", exact=False,
             why="128-bit integers have 39 digits; Spark's decimal holds 38"),
    TypeRule(("float",), "float"), TypeRule(("double",), "double"),
    TypeRule(("decimal",), "decimal(p,s)"), TypeRule(("boolean",), "boolean"),
    TypeRule(("varchar",), "string"), TypeRule(("blob",), "binary"),
    TypeRule(("date",), "date"),
    TypeRule(("timestamp",), "timestamp_ntz", why="a wall time stays a wall time"),
    TypeRule(("timestamp with time zone",), "timestamp", why="an instant stays an instant"),
    TypeRule(("time",), "string", exact=False, why="Spark has no time of day type"),
    TypeRule(("uuid", "json", "interval"), "string (canonical text)",
             why="Spark has no such type: carried as its canonical text"),
))

DUCKDB = Database(
    name="duckdb",
    types=TYPES,
    kind="jdbc",
    url_template="jdbc:duckdb:{path}",
    driver_class="org.duckdb.DuckDBDriver",
    driver_packages=("org.duckdb:duckdb_jdbc:1.1.3",),
    required=("path",),
    aliases={"database": "path"},
    connection=PathConnection,
    ddl=DIALECT,
)

DATABASES = (DUCKDB,)
