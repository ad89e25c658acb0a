"""SQLite over the xerial JDBC driver: a database in one local file."""

from __future__ import annotations

from dvt_connect.databases.connection import PathConnection
from dvt_connect.databases.postgres import RENAME_SWAP
from dvt_connect.databases.spec import Database, Dialect, TypeMap, TypeRule

_MILLIS = ("SQLite has no timestamp type; the xerial driver stores milliseconds by default, "
           "so microseconds may be lost")

DIALECT = Dialect(
    name="sqlite",
    title="SQLite",
    types={
        "boolean": "BOOLEAN",
        "byte": "SMALLINT",
        "short": "SMALLINT",
        "integer": "INTEGER",
        "long": "BIGINT",
        "float": "REAL",
        "double": "DOUBLE",
        "decimal": "TEXT",
        "varchar": "TEXT",
        "char": "TEXT",
        "binary": "BLOB",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "timestamp_ntz": "TIMESTAMP",
    },
    text_ladder=((None, "TEXT"),),
    varchar_limit=0,
    instants_as_utc_wall=True,
    max_precision=38,
    max_identifier=1_000,
    swap=RENAME_SWAP,
    warnings={"timestamp": _MILLIS, "timestamp_ntz": _MILLIS},
)

# Source types: Spark type, exact or lossy and why.
TYPES = TypeMap(rules=(
    TypeRule(("integer", "int", "bigint"), "long", why="SQLite integers are 64-bit"),
    TypeRule(("real", "double", "float"), "double"),
    TypeRule(("text", "varchar", "char", "clob"), "string"),
    TypeRule(("blob",), "binary"),
    TypeRule(("numeric", "decimal"), "decimal(p,s)", exact=False,
             why="NUMERIC affinity stores values as integers or 8-byte floats: digits beyond "
                 "15 are already gone"),
    TypeRule(("date", "datetime", "timestamp"), "string", exact=False,
             why="SQLite has no date type: the driver parses text in its own format; cast to "
                 "text in --query to keep it as stored"),
    TypeRule(("boolean",), "boolean"),
))

SQLITE = Database(
    name="sqlite",
    types=TYPES,
    kind="jdbc",
    url_template="jdbc:sqlite:{path}",
    driver_class="org.sqlite.JDBC",
    driver_packages=("org.xerial:sqlite-jdbc:3.47.1.0",),
    required=("path",),
    aliases={"database": "path"},
    connection=PathConnection,
    ddl=DIALECT,
)

DATABASES = (SQLITE,)
