"""Apache Derby: embedded, shipped with Spark (the demo's source). A database is a folder."""

from __future__ import annotations

from dvt_connect.databases.connection import PathConnection
from dvt_connect.databases.spec import (
    CatalogQueries,
    Database,
    Dialect,
    ErrorRules,
    Swap,
    TypeMap,
    TypeRule,
)

DIALECT = Dialect(
    name="derby",
    title="Derby",
    types={
        "boolean": "BOOLEAN",
        "byte": "SMALLINT",
        "short": "SMALLINT",
        "integer": "INTEGER",
        "long": "BIGINT",
        "float": "REAL",
        "double": "DOUBLE",
        "decimal": "DECIMAL({p},{s})",
        # Spark binds a NULL string as a CLOB, which Derby refuses for VARCHAR columns
        "varchar": "CLOB",
        "char": "CLOB",
        "binary": "BLOB",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "timestamp_ntz": "TIMESTAMP",
    },
    text_ladder=((None, "CLOB"),),
    varchar_limit=0,
    instants_as_utc_wall=True,
    max_precision=31,
    max_identifier=128,
    drop_if_exists=False,
    swap=Swap(
        replace=("DROP TABLE {target}", "RENAME TABLE {stage} TO {target_name}"),
        create=("RENAME TABLE {stage} TO {target_name}",),
    ),
)

# Source types: Spark type, exact or lossy and why.
TYPES = TypeMap(rules=(
    TypeRule(("smallint",), "short"), TypeRule(("integer",), "integer"),
    TypeRule(("bigint",), "long"), TypeRule(("real",), "float"), TypeRule(("double",), "double"),
    TypeRule(("decimal", "numeric"), "decimal(p,s)", why="Derby's precision stops at 31"),
    TypeRule(("boolean",), "boolean"),
    TypeRule(("char", "varchar", "long varchar", "clob"), "string"),
    TypeRule(("char () for bit data", "varchar () for bit data", "blob"), "binary"),
    TypeRule(("date",), "date"),
    TypeRule(("timestamp",), "timestamp_ntz", why="a wall time stays a wall time"),
    TypeRule(("time",), "timestamp_ntz (1970-01-01)", exact=False,
             why="Spark's JDBC source reads times with millisecond precision"),
))

DERBY = Database(
    name="derby",
    types=TYPES,
    kind="jdbc",
    url_template="jdbc:derby:{path};create=true",
    driver_class="org.apache.derby.jdbc.EmbeddedDriver",
    bundled_with_spark=True,
    catalog=CatalogQueries(default_schema="APP"),
    required=("path",),
    aliases={"database": "path"},
    connection=PathConnection,
    errors=ErrorRules(product="Derby", transient_states=frozenset({"40XL1", "40XL2"})),
    ddl=DIALECT,
    literals={"date": "DATE({})", "timestamp": "TIMESTAMP({})"},
    is_folder=True,
)

DATABASES = (DERBY,)


def memory_url(name: str, *, create: bool = False, drop: bool = False) -> str:
    """The JDBC URL of Derby's in-memory database ``name`` (nothing on disk; ``drop`` ends it,
    which Derby reports by raising SQL state 08006)."""
    return f"jdbc:derby:memory:{name}" + (";create=true" if create else "") \
        + (";drop=true" if drop else "")
