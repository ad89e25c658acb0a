"""Trino: JDBC only (a catalog is the database part of the URL)."""

from __future__ import annotations

from dvt_connect.databases.spec import Database

TRINO = Database(
    name="trino",
    kind="jdbc",
    url_template="jdbc:trino://{host}:{port}/{database}",
    default_port=8080,
    driver_class="io.trino.jdbc.TrinoDriver",
    driver_packages=("io.trino:trino-jdbc:465",),
    required=("host",),
    aliases={"catalog": "database"},
)

DATABASES = (TRINO,)
