"""Every database dvt-connect knows, one module each; the registry is built from them.

A module declares everything about its database in one :class:`~.spec.Database` (and, where it
needs one, a :class:`~.connection.Connection` subclass) and lists it in ``DATABASES``. Adding a
database is one new module here plus its name in :data:`MODULES` (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from dvt_connect.databases.connection import Connection
from dvt_connect.databases.spec import (
    COMMON_SECRET_FIELDS,
    CatalogQueries,
    Database,
    Dialect,
    ErrorRules,
    NativeFacts,
    Swap,
)
from dvt_connect.errors import NotFoundError

__all__ = [
    "COMMON_SECRET_FIELDS", "DATABASES", "MODULES", "TYPE_ALIASES", "CatalogQueries",
    "Connection", "Database", "Dialect", "ErrorRules", "NativeFacts", "Swap", "database",
    "database_of_jdbc_url", "generic_dialect",
]

# One line per database module (each lists its databases in `DATABASES`).
MODULES = (
    "postgres",
    "mysql",  # mysql and mariadb
    "sqlserver",
    "oracle",
    "snowflake",
    "bigquery",
    "redshift",
    "db2",
    "trino",
    "clickhouse",
    "databricks",
    "sqlite",
    "duckdb",
    "derby",
    "jdbc",
    "files",
)


def _load() -> dict[str, Database]:
    found: dict[str, Database] = {}
    for module_name in MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        for db in module.DATABASES:
            if db.name in found:
                raise RuntimeError(f"database `{db.name}` is declared twice")
            found[db.name] = db
    return found


DATABASES: Mapping[str, Database] = MappingProxyType(_load())

# Other spellings users write for a type, from each database's `type_aliases`.
TYPE_ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: db.name for db in DATABASES.values() for alias in db.type_aliases})


def database(type_name: str) -> Database:
    """The database of a ``type:``; an unknown type lists the valid ones."""
    key = TYPE_ALIASES.get(type_name.lower(), type_name.lower())
    try:
        return DATABASES[key]
    except KeyError:
        raise NotFoundError("adapter type", type_name, DATABASES) from None


def database_of_jdbc_url(url: str) -> Database | None:
    """The database whose JDBC URL ``url`` is (by the template's ``jdbc:<name>:`` prefix), e.g.
    the database an Iceberg JDBC catalog keeps its tables in; None when none matches."""
    prefixes = {db.url_template.split("{")[0]: db for db in DATABASES.values()
                if db.url_template}
    best = max((p for p in prefixes if url.lower().startswith(p.lower())), key=len, default=None)
    return prefixes[best] if best is not None else None


def generic_dialect() -> Dialect:
    """The DDL dialect for databases that declare none."""
    from dvt_connect.databases.jdbc import GENERIC_DIALECT

    return GENERIC_DIALECT


def dialect_of(db: Database) -> Dialect:
    return db.ddl or generic_dialect()
