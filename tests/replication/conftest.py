"""A real PostgreSQL source with two schemas for replication tests, and profiles pointing at it."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import dvt_services
import pytest

SERVERS = dvt_services.addresses()
PG, MARIADB = SERVERS["postgres"].as_dict(), SERVERS["mariadb"].as_dict()
PG_DRIVER = "org.postgresql:postgresql:42.5.5"
MARIADB_DRIVER = "org.mariadb.jdbc:mariadb-java-client:2.7.6"
# rows per table: largest first is the order a run starts them in
SIZES = {"orders": 60_000, "order_items": 30_000, "customers": 2_000}


def psql(sql: str) -> str:
    out = SERVERS["postgres"].client(sql)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def maria(sql: str) -> str:
    out = SERVERS["mariadb"].client(sql)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="session")
def source_schemas(pg: dict[str, object]) -> Iterator[tuple[str, str]]:
    """``<sales>``: orders, order_items, customers (sizes in SIZES) and a view;
    ``<crm>``: customers (500 rows), so two schemas hold a table of the same name."""
    tag = uuid.uuid4().hex[:6]
    sales, crm = f"repl_sales_{tag}", f"repl_crm_{tag}"
    statements = [f"CREATE SCHEMA {sales}; CREATE SCHEMA {crm};"]
    for table, rows in SIZES.items():
        statements.append(f"""
            CREATE TABLE {sales}.{table} (id bigint PRIMARY KEY, label text, amount numeric(12,2));
            INSERT INTO {sales}.{table} SELECT g, 'row ' || g, (g % 1000) / 10.0
            FROM generate_series(1, {rows}) g;
            ANALYZE {sales}.{table};""")
    statements.append(f"""
        CREATE VIEW {sales}.big_orders AS SELECT * FROM {sales}.orders WHERE amount > 90;
        CREATE TABLE {crm}.customers (id bigint PRIMARY KEY, name text);
        INSERT INTO {crm}.customers SELECT g, 'name ' || g FROM generate_series(1, 500) g;
        ANALYZE {crm}.customers;""")
    psql("\n".join(statements))
    yield sales, crm
    psql(f"DROP SCHEMA {sales} CASCADE; DROP SCHEMA {crm} CASCADE;")


def write_profiles(folder: Path, lake: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    path.write_text(textwrap.dedent(f"""
        repl:
          target: lake
          outputs:
            pg:
              type: postgres
              host: {PG["host"]}
              port: {PG["port"]}
              user: {PG["user"]}
              password: "{PG["password"]}"
              dbname: {PG["database"]}
              packages: ["{PG_DRIVER}"]
            maria:
              type: mariadb
              host: {MARIADB["host"]}
              port: {MARIADB["port"]}
              user: {MARIADB["user"]}
              password: "{MARIADB["password"]}"
              database: {MARIADB["database"]}
              packages: ["{MARIADB_DRIVER}"]
            lake:
              type: files
              path: {lake}
              format: parquet
            lake2:
              type: files
              path: {lake}-copy
              format: parquet
    """))
    path.chmod(0o600)
    return path
