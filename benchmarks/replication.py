"""Replication bench: many tables in one `dvt run` against one `dvt transfer` per table.

Generates TABLES PostgreSQL tables of ROWS rows each (20 x 250,000 by default; ``--tables``,
``--rows``), then times, each side as fresh processes so Spark's start-up counts as a user pays
it:
  - `dvt run replication.yml --threads 4`   (one Spark session, streams in parallel)
  - TABLES sequential `dvt transfer` commands (one Spark session each)
for PostgreSQL -> Parquet (and PostgreSQL -> MariaDB with ``--mariadb``). Prints wall times and
their ratio, checks every table arrived whole, and writes the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import dvt_services  # noqa: E402  (where the servers `make services` brings up are)

SERVERS = dvt_services.addresses()
PGA, MDBA = SERVERS["postgres"], SERVERS["mariadb"]
BIN = Path(sys.executable).parent
PG_JAR_COORD = "org.postgresql:postgresql:42.5.5"
MARIADB_JAR_COORD = "org.mariadb.jdbc:mariadb-java-client:2.7.6"
DEBIAN_REPO = "/usr/share/maven-repo"
SCHEMA = "dvt_bench_repl"


def psql(sql: str) -> str:
    return PGA.client(sql, check=True).stdout.strip()


def mariadb(sql: str) -> str:
    return MDBA.client(sql, check=True).stdout.strip()


def tables(count: int) -> list[str]:
    return [f"t{i:02d}" for i in range(count)]


def generate(count: int, rows: int) -> None:
    names = tables(count)
    have = psql(f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{SCHEMA}'")
    if have == str(count) and all(
            psql(f"SELECT count(*) FROM {SCHEMA}.{n}") == str(rows) for n in names):
        print(f"reusing {count} tables of {rows:,} rows in {SCHEMA}")
        return
    print(f"generating {count} tables of {rows:,} rows in {SCHEMA} …", flush=True)
    psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};")
    for name in names:
        psql(textwrap.dedent(f"""
            CREATE TABLE {SCHEMA}.{name} (
              id bigint PRIMARY KEY, customer_id integer NOT NULL, amount numeric(12,2),
              status text, created_at timestamptz);
            INSERT INTO {SCHEMA}.{name}
            SELECT g, (g * 7919) % 50000, ((g * 37) % 100000) / 100.0,
                   (ARRAY['placed','shipped','delivered','returned'])[1 + g % 4],
                   timestamptz '2023-01-01 00:00:00+00' + (g * 61) * interval '1 second'
            FROM generate_series(1::bigint, {rows}::bigint) g;
            ANALYZE {SCHEMA}.{name};
        """))


def write_profiles(home: Path, lake: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "profiles.yml").write_text(textwrap.dedent(f"""
        bench:
          target: lake
          outputs:
            pg:
              type: postgres
              host: {PGA.host}
              port: {PGA.port}
              user: {PGA.user}
              password: "{PGA.password}"
              dbname: {PGA.database}
              schema: {SCHEMA}
              packages: ["{PG_JAR_COORD}"]
            maria:
              type: mariadb
              host: {MDBA.host}
              port: {MDBA.port}
              user: {MDBA.user}
              password: "{MDBA.password}"
              database: {MDBA.database}
              packages: ["{MARIADB_JAR_COORD}"]
            lake:
              type: files
              path: {lake}
              format: parquet
    """))
    (home / "profiles.yml").chmod(0o600)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"benchmark step failed: {' '.join(cmd[:4])} …")
    return elapsed, proc


def run_case(kind: str, target: str, names: list[str], rows: int, threads: int, work: Path,
             env: dict[str, str]) -> dict[str, object]:
    dvt = str(BIN / "dvt")
    prefix = "bench_repl_"
    replication = work / f"replication-{kind}.yml"
    replication.write_text(textwrap.dedent(f"""
        source: pg
        target: {target}
        defaults:
          object: "{prefix}run_{{table}}"
        streams:
          {SCHEMA}.*:
    """))
    run_seconds, proc = timed([dvt, "run", str(replication), "--profile", "bench",
                               "--threads", str(threads), "--json"], env)
    results = json.loads(proc.stdout)["results"]
    moved = {r["stream"]: r["rows"] for r in results if r["status"] == "success"}
    if len(moved) != len(names) or set(moved.values()) != {rows}:
        raise SystemExit(f"`dvt run` did not move every table whole: {moved}")

    sequential = 0.0
    for name in names:
        seconds, proc = timed([dvt, "transfer", "--profile", "bench", "--source", "pg",
                               "--table", f"{SCHEMA}.{name}", "--target", target,
                               "--target-table", f"{prefix}seq_{name}", "--json"], env)
        if json.loads(proc.stdout)["rows"] != rows:
            raise SystemExit(f"`dvt transfer` of {name} moved the wrong number of rows")
        sequential += seconds
    if kind == "mariadb":
        mariadb("DROP TABLE IF EXISTS " + ", ".join(
            f"{prefix}{side}_{n}" for side in ("run", "seq") for n in names))
    return {"case": f"postgres -> {kind}", "tables": len(names), "rows_per_table": rows,
            "threads": threads, "dvt_run_seconds": round(run_seconds, 2),
            "sequential_transfers_seconds": round(sequential, 2),
            "speedup": round(sequential / run_seconds, 2),
            "connectors": sorted({str(r["connector"]) for r in results})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int, default=int(os.environ.get("REPL_TABLES", 20)))
    parser.add_argument("--rows", type=int, default=int(os.environ.get("REPL_ROWS", 250_000)))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--mariadb", action="store_true",
                        help="also run PostgreSQL -> MariaDB")
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    args = parser.parse_args()

    generate(args.tables, args.rows)
    work = Path(tempfile.mkdtemp(prefix="dvt-bench-repl-"))
    home = work / "home"
    write_profiles(home, work / "lake")
    env = dict(os.environ, DVT_HOME=str(home), DVT_PROFILES_DIR=str(home))
    timed([str(BIN / "dvt"), "sync", "--profile", "bench", "--repository",
           f"file://{DEBIAN_REPO}"], env)
    names = tables(args.tables)
    cases = [("parquet", "lake")] + ([("mariadb", "maria")] if args.mariadb else [])
    results = [run_case(kind, target, names, args.rows, args.threads, work, env)
               for kind, target in cases]
    shutil.rmtree(work, ignore_errors=True)

    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "python": platform.python_version()}
    print(f"\n{args.tables} tables x {args.rows:,} rows   machine: {machine['cpus']} cores")
    header = f"{'case':<22}{'dvt run s':>11}{'sequential s':>14}{'speedup':>9}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['case']:<22}{r['dvt_run_seconds']:>11.1f}"
              f"{r['sequential_transfers_seconds']:>14.1f}{r['speedup']:>8.2f}x")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"bench-replication-{stamp}.json"
    path.write_text(json.dumps({"when": stamp, "machine": machine, "results": results},
                               indent=2))
    print(f"\nresults written to {path}")


if __name__ == "__main__":
    main()
