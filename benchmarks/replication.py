"""Replication bench: many tables in one `dvt run` against one `dvt transfer` per table.

Generates TABLES PostgreSQL tables of ROWS rows each (20 x 250,000 by default; ``--tables``,
``--rows``, or ``REPL_TABLES``/``REPL_ROWS``), then times, each side as fresh processes so
Spark's start-up counts as a user pays it, for PostgreSQL -> Parquet and PostgreSQL -> MariaDB:
  - `dvt run replication.yml --threads 4`   (one Spark session, streams in parallel)
  - TABLES sequential `dvt transfer` commands (one Spark session each)
  - Spark's JDBC source at its defaults, table by table in one session (one process)
Prints wall times, the ratio against the 3x target, where each side's time went (start-up and
planning against moving), checks every table arrived whole, and writes the results as JSON.
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
PG_URL = f"jdbc:postgresql://{PGA.host}:{PGA.port}/{PGA.database}"
MARIADB_URL = f"jdbc:mysql://{MDBA.host}:{MDBA.port}/{MDBA.database}?permitMysqlScheme"
TARGET_SPEEDUP = 3.0
CASES = {"parquet": "lake", "mariadb": "maria"}

# Spark's JDBC source at its defaults (one partition per table), table by table in one
# session: what a hand-written PySpark job does. Same write options as benchmarks/run.py.
BASELINE = textwrap.dedent("""
    import json, os, sys, time
    from pyspark.sql import SparkSession
    kind, jars, out, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
    db = json.loads(os.environ["BENCH_DB"])
    spark = (SparkSession.builder.master("local[*]").config("spark.jars", jars)
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    for name in names:
        df = (spark.read.format("jdbc").option("url", db["pg_url"])
              .option("driver", "org.postgresql.Driver").option("user", db["pg_user"])
              .option("password", db["pg_password"])
              .option("dbtable", db["schema"] + "." + name).load())
        if kind == "parquet":
            df.write.mode("overwrite").parquet(os.path.join(out, name))
        else:
            (df.write.format("jdbc").mode("overwrite")
             .option("url", db["maria_url"])
             .option("driver", "org.mariadb.jdbc.Driver").option("user", db["maria_user"])
             .option("password", db["maria_password"]).option("dbtable", out + name)
             .option("batchsize", "10000").save())
    spark.stop()
""")


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


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run_profile(results: list[dict[str, object]], wall: float) -> dict[str, float]:
    """Where `dvt run`'s time went: start-up (process, Spark, catalog and the first plan) before
    any stream started, the streams' span, and the per-stream planning and moving summed."""
    starts, ends, planning, moving = [], [], 0.0, 0.0
    for r in results:
        for step in r["timing"]:  # type: ignore[attr-defined]
            start, end = _epoch(step["started_at"]), _epoch(step["completed_at"])
            starts.append(start)
            ends.append(end)
            if step["name"] == "plan":
                planning += end - start
            else:
                moving += end - start
    span = max(ends) - min(starts)
    return {"startup_seconds": round(wall - span, 2), "streams_span_seconds": round(span, 2),
            "stream_planning_seconds_sum": round(planning, 2),
            "stream_moving_seconds_sum": round(moving, 2)}


def run_case(kind: str, target: str, names: list[str], rows: int, threads: int, work: Path,
             env: dict[str, str], jars: str) -> dict[str, object]:
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

    print(f"  postgres -> {kind}: dvt run {run_seconds:.1f} s", flush=True)

    out = f"{prefix}spark_" if kind == "mariadb" else str(work / "spark-baseline")
    spark_seconds, _ = timed([sys.executable, "-c", BASELINE, kind, jars, out, ",".join(names)],
                             env)
    print(f"  postgres -> {kind}: Spark JDBC defaults, one session {spark_seconds:.1f} s",
          flush=True)

    sequential = planning = moving = 0.0
    for name in names:
        seconds, proc = timed([dvt, "transfer", "--profile", "bench", "--source", "pg",
                               "--table", f"{SCHEMA}.{name}", "--target", target,
                               "--target-table", f"{prefix}seq_{name}", "--json"], env)
        stats = json.loads(proc.stdout)
        if stats["rows"] != rows:
            raise SystemExit(f"`dvt transfer` of {name} moved the wrong number of rows")
        sequential += seconds
        planning += stats["planning_seconds"]  # from the command's start: Spark start-up too
        moving += stats["moving_seconds"]
    print(f"  postgres -> {kind}: {len(names)} dvt transfer {sequential:.1f} s", flush=True)
    if kind == "mariadb":
        mariadb("DROP TABLE IF EXISTS " + ", ".join(
            f"{prefix}{side}_{n}" for side in ("run", "seq", "spark") for n in names))
    return {"case": f"postgres -> {kind}", "tables": len(names), "rows_per_table": rows,
            "threads": threads, "dvt_run_seconds": round(run_seconds, 2),
            "sequential_transfers_seconds": round(sequential, 2),
            "spark_jdbc_one_session_seconds": round(spark_seconds, 2),
            "speedup": round(sequential / run_seconds, 2),
            "speedup_vs_spark_session": round(spark_seconds / run_seconds, 2),
            "target_met": sequential / run_seconds >= TARGET_SPEEDUP,
            "connectors": sorted({f"{r['connector']} -> {r['target_connector']}"
                                  for r in results}),
            "dvt_run_profile": run_profile(results, run_seconds),
            "sequential_profile": {
                "startup_and_planning_seconds_sum": round(planning, 2),
                "moving_seconds_sum": round(moving, 2),
                "process_exit_and_imports_seconds_sum": round(sequential - planning - moving,
                                                              2)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int, default=int(os.environ.get("REPL_TABLES", 20)))
    parser.add_argument("--rows", type=int, default=int(os.environ.get("REPL_ROWS", 250_000)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("REPL_THREADS", 4)))
    parser.add_argument("--cases", default=os.environ.get("REPL_CASES", "parquet,mariadb"),
                        help="comma-separated targets: parquet, mariadb (default: both)")
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    args = parser.parse_args()
    kinds = [k.strip() for k in args.cases.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(CASES))
    if unknown or not kinds:
        parser.error(f"--cases: unknown {unknown}; valid: {', '.join(CASES)}")

    generate(args.tables, args.rows)
    work = Path(tempfile.mkdtemp(prefix="dvt-bench-repl-"))
    home = work / "home"
    write_profiles(home, work / "lake")
    env = dict(os.environ, DVT_HOME=str(home), DVT_PROFILES_DIR=str(home))
    # The baseline's logins travel in the environment, not on its command line.
    env["BENCH_DB"] = json.dumps({"pg_url": PG_URL, "pg_user": PGA.user,
                                  "pg_password": PGA.password, "maria_url": MARIADB_URL,
                                  "maria_user": MDBA.user, "maria_password": MDBA.password,
                                  "schema": SCHEMA})
    timed([str(BIN / "dvt"), "sync", "--profile", "bench", "--repository",
           f"file://{DEBIAN_REPO}"], env)
    jars = ",".join(str(p) for p in sorted((home / "jars").glob("*.jar")))
    names = tables(args.tables)
    load = os.getloadavg()
    results = [run_case(kind, CASES[kind], names, args.rows, args.threads, work, env, jars)
               for kind in kinds]
    shutil.rmtree(work, ignore_errors=True)

    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "python": platform.python_version(),
               "load_average_at_start": [round(x, 1) for x in load],
               "load_average_at_end": [round(x, 1) for x in os.getloadavg()]}
    print(f"\n{args.tables} tables x {args.rows:,} rows, --threads {args.threads}   machine: "
          f"{machine['cpus']} cores, load average {load[0]:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end")
    header = (f"{'case':<22}{'dvt run s':>10}{'N x transfer s':>16}{'speedup':>9}"
              f"{'  >=3x':<7}{'Spark 1 session s':>19}{'vs run':>8}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['case']:<22}{r['dvt_run_seconds']:>10.1f}"
              f"{r['sequential_transfers_seconds']:>16.1f}{r['speedup']:>8.2f}x"
              f"{'  PASS' if r['target_met'] else '  FAIL':<7}"
              f"{r['spark_jdbc_one_session_seconds']:>19.1f}"
              f"{r['speedup_vs_spark_session']:>7.2f}x")
    print("\nwhere the time went (seconds)")
    for r in results:
        p, q = r["dvt_run_profile"], r["sequential_profile"]
        print(f"{r['case']:<22}dvt run: start-up {p['startup_seconds']:.1f}, streams "
              f"{p['streams_span_seconds']:.1f} (planning summed "
              f"{p['stream_planning_seconds_sum']:.1f}, moving summed "
              f"{p['stream_moving_seconds_sum']:.1f}); transfers: start-up and planning "
              f"{q['startup_and_planning_seconds_sum']:.1f}, moving "
              f"{q['moving_seconds_sum']:.1f}, imports and exit "
              f"{q['process_exit_and_imports_seconds_sum']:.1f}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"bench-replication-{stamp}.json"
    path.write_text(json.dumps({"when": stamp, "tables": args.tables, "rows": args.rows,
                                "machine": machine, "results": results}, indent=2))
    print(f"\nresults written to {path}")


if __name__ == "__main__":
    main()
