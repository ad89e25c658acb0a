"""DuckDB over its JDBC driver: a database in one local file."""

from __future__ import annotations

from dvt_connect.databases.connection import PathConnection
from dvt_connect.databases.postgres import RENAME_SWAP
from dvt_connect.databases.spec import Database, Dialect

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

DUCKDB = Database(
    name="duckdb",
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
