"""An hourly-style loop: load a table, change 1% of it, then move it again two ways.

PostgreSQL -> MariaDB, in one process with one Spark session (both sides pay no start-up):
  1. the first incremental run (a full load into an absent target, which gets the primary key);
  2. 1% of the source changes: half the changed rows are updated (new ``updated_at``), half new;
  3. timed: ``--mode incremental --update-key updated_at --primary-key id`` (merge) and a full
     refresh (``--mode overwrite``) of the same source into a second table.
Checks that the incremental target equals the source (row count and a checksum, read with the
databases' own clients) and prints the times; ``--out`` keeps them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))
import dvt_services  # noqa: E402

SERVERS = dvt_services.addresses()
PGA, MDBA = SERVERS["postgres"], SERVERS["mariadb"]
SCHEMA, SOURCE = "dvt_bench_inc", "orders"


def psql(sql: str) -> str:
    return PGA.client(sql, check=True).stdout.strip()


def maria(sql: str) -> str:
    return MDBA.client(sql, check=True).stdout.strip()


def generate(rows: int, schema: str = SCHEMA) -> None:
    print(f"generating {schema}.{SOURCE} with {rows:,} rows …", flush=True)
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};")
    psql(f"""
        CREATE TABLE {schema}.{SOURCE} (id bigint PRIMARY KEY, customer_id integer NOT NULL,
          amount numeric(12,2), status text, updated_at timestamptz NOT NULL);
        INSERT INTO {schema}.{SOURCE}
        SELECT g, (g::bigint * 7919) % 100000, (g % 100000) / 100.0, 'status ' || (g % 7),
               timestamptz '2026-01-01 00:00:00+00' + g * interval '1 millisecond'
        FROM generate_series(1, {rows}) g;
        CREATE INDEX ON {schema}.{SOURCE} (updated_at);
        ANALYZE {schema}.{SOURCE};""")


def change_one_percent(rows: int, schema: str = SCHEMA) -> int:
    half = max(rows // 200, 1)
    psql(f"""
        UPDATE {schema}.{SOURCE} SET amount = amount + 1, updated_at = now()
        WHERE id % 200 = 0;
        INSERT INTO {schema}.{SOURCE}
        SELECT g, g % 100000, 1.00, 'new', now()
        FROM generate_series({rows + 1}, {rows + half}) g;
        ANALYZE {schema}.{SOURCE};""")
    return 2 * half


def connections() -> tuple[Any, Any]:
    from dvt_connect.config.profiles import parse_connection

    pg = PGA.as_dict()
    md = MDBA.as_dict()
    source = parse_connection("pg", {"type": "postgres", "host": pg["host"], "port": pg["port"],
                                     "user": pg["user"], "password": pg.get("password", ""),
                                     "dbname": pg["database"], "schema": SCHEMA},
                              path=Path("profiles.yml"), key="bench.outputs.pg")
    target = parse_connection("maria", {"type": "mariadb", "host": md["host"],
                                        "port": md["port"], "user": md["user"],
                                        "password": md.get("password", ""),
                                        "schema": md["database"]},
                              path=Path("profiles.yml"), key="bench.outputs.maria")
    return source, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int,
                        default=int(os.environ.get("BENCH_INC_ROWS", 5_000_000)))
    parser.add_argument("--connector", default="auto", choices=("auto", "jdbc"))
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    args = parser.parse_args()

    from dvt_connect import spark as spark_mod
    from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
    from dvt_connect.console import CaptureConsole
    from dvt_connect.transfer.run import transfer

    jars = [sorted(Path("/usr/share/maven-repo").glob(p))[-1] for p in (
        "org/postgresql/postgresql/[0-9]*/postgresql-*.jar",
        "org/mariadb/jdbc/mariadb-java-client/[0-9]*/mariadb-java-client-*.jar")]
    spark = spark_mod.get_session(spark_mod.session_spec(jars=[str(j) for j in jars]))
    generate(args.rows)
    source, target = connections()
    inc_table, full_table = "bench_inc_orders", "bench_full_orders"
    maria(f"DROP TABLE IF EXISTS {inc_table}; DROP TABLE IF EXISTS {full_table};")

    def run(table: str, **write: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        stats = transfer(spark, source, target, ReadRequest(table=TableRef(SOURCE, SCHEMA)),
                         WriteRequest(table=TableRef(table), **write),
                         connector=args.connector, console=CaptureConsole())
        return time.perf_counter() - started, stats

    incremental = {"mode": "incremental", "update_key": "updated_at", "primary_key": ("id",)}
    first_s, first = run(inc_table, **incremental)
    print(f"first incremental run (full load): {first.rows:,} rows in {first_s:.1f} s")
    changed = change_one_percent(args.rows)
    inc_s, inc = run(inc_table, **incremental)
    print(f"incremental after 1% changed: {inc.rows:,} rows read, {inc.inserted:,} inserted, "
          f"{inc.updated:,} updated in {inc_s:.1f} s (planning {inc.planning_seconds:.1f} s, "
          f"moving {inc.moving_seconds:.1f} s)")
    full_s, full = run(full_table, mode="overwrite")
    print(f"full refresh: {full.rows:,} rows in {full_s:.1f} s (planning "
          f"{full.planning_seconds:.1f} s, moving {full.moving_seconds:.1f} s)")

    src_check = psql(f"SELECT count(*), sum(amount), sum(id) FROM {SCHEMA}.{SOURCE}").split("|")
    dst_check = maria(f"SELECT count(*), sum(amount), sum(id) FROM {inc_table}").split()
    same = [s.strip() for s in src_check] == [d.strip() for d in dst_check]
    print(f"incremental target equals source (count, sum(amount), sum(id)): {same}")
    print(f"incremental {inc_s:.1f} s vs full refresh {full_s:.1f} s: "
          f"{full_s / inc_s:.1f}x faster")
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": args.rows, "changed_rows": changed, "connector": args.connector,
        "first_incremental_s": round(first_s, 2), "incremental_s": round(inc_s, 2),
        "incremental_rows": inc.rows, "inserted": inc.inserted, "updated": inc.updated,
        "incremental_planning_s": round(inc.planning_seconds, 2),
        "incremental_moving_s": round(inc.moving_seconds, 2),
        "full_refresh_s": round(full_s, 2), "full_rows": full.rows, "target_matches": same,
        "full_planning_s": round(full.planning_seconds, 2),
        "full_moving_s": round(full.moving_seconds, 2),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "incremental.json").write_text(json.dumps(result, indent=2) + "\n")
    maria(f"DROP TABLE IF EXISTS {inc_table}; DROP TABLE IF EXISTS {full_table};")
    psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    if not same:
        sys.exit("the incremental target differs from the source")


if __name__ == "__main__":
    main()
