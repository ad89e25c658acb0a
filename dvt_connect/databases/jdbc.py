"""The generic ``jdbc`` type (any driver the user names under ``packages:``), and the generic
DDL dialect every database without its own uses."""

from __future__ import annotations

from dvt_connect.databases.postgres import RENAME_SWAP
from dvt_connect.databases.spec import Database, Dialect, Swap

GENERIC_DIALECT = Dialect(
    name="generic",
    title="the database",
    types={
        "boolean": "BOOLEAN",
        "byte": "SMALLINT",
        "short": "SMALLINT",
        "integer": "INTEGER",
        "long": "BIGINT",
        "float": "REAL",
        "double": "DOUBLE PRECISION",
        "decimal": "DECIMAL({p},{s})",
        "varchar": "VARCHAR({n})",
        "char": "CHAR({n})",
        "binary": "BLOB",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "timestamp_ntz": "TIMESTAMP",
    },
    text_ladder=((None, "TEXT"),),
    varchar_limit=4_000,
    instants_as_utc_wall=True,
    max_precision=38,
    max_identifier=128,
    swap=Swap(
        replace=RENAME_SWAP.replace,
        create=RENAME_SWAP.create,
        atomic=False,
        how="dropped and renamed in one transaction (atomic only where the database "
            "has transactional DDL)",
    ),
)

JDBC = Database(
    name="jdbc",
    kind="jdbc",
    driver_note=(
        "The generic `jdbc` type has no driver of its own: list the driver's Maven "
        "coordinates under `packages:` in the output (for example "
        "`packages: [org.hsqldb:hsqldb:2.7.4]`) and `dvt sync` fetches them."
    ),
    required=("url", "driver"),
    driver_from_packages=True,
)

DATABASES = (JDBC,)
