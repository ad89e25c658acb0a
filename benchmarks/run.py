"""`make bench`: time `dvt transfer` against Spark's JDBC source at its defaults, in one run.

Generates a PostgreSQL table of mixed types (5M rows by default; ``--rows`` or ``BENCH_ROWS``),
then times, each as a fresh process so Spark's start-up counts for both sides:
  - PostgreSQL -> Parquet:  `dvt transfer`  vs  spark.read.jdbc (one partition) -> parquet
  - PostgreSQL -> MariaDB:  `dvt transfer`  vs  spark.read.jdbc -> write.jdbc (defaults)
Prints wall times, their ratio, rows/s and MB/s, and writes the results as JSON.
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
PG_URL = f"jdbc:postgresql://{PGA.host}:{PGA.port}/{PGA.database}"
MARIADB_URL = f"jdbc:mysql://{MDBA.host}:{MDBA.port}/{MDBA.database}?permitMysqlScheme"
BIN = Path(sys.executable).parent
PG_JAR_COORD = "org.postgresql:postgresql:42.5.5"
MARIADB_JAR_COORD = "org.mariadb.jdbc:mariadb-java-client:2.7.6"
DEBIAN_REPO = "/usr/share/maven-repo"
SCHEMA, TABLE = "dvt_bench", "orders"


def psql(sql: str) -> str:
    return PGA.client(sql, check=True).stdout.strip()


def mariadb(sql: str) -> None:
    MDBA.client(sql, check=True)


def generate(rows: int) -> None:
    existing = psql(
        f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{SCHEMA}' "
        f"AND table_name = '{TABLE}'"
    )
    if existing == "1" and psql(f"SELECT count(*) FROM {SCHEMA}.{TABLE}") == str(rows):
        print(f"reusing {SCHEMA}.{TABLE} ({rows:,} rows)")
        return
    print(f"generating {SCHEMA}.{TABLE} with {rows:,} rows …", flush=True)
    psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};")
    psql(textwrap.dedent(f"""
        CREATE TABLE {SCHEMA}.{TABLE} (
          id bigint PRIMARY KEY, customer_id integer NOT NULL, amount numeric(12,2),
          price double precision, status text, note varchar(64),
          created_at timestamptz, is_active boolean);
        INSERT INTO {SCHEMA}.{TABLE}
        SELECT g, (g * 7919) % 50000, ((g * 37) % 100000) / 100.0, g * 0.25,
               (ARRAY['placed','shipped','delivered','returned'])[1 + g % 4],
               CASE WHEN g % 7 = 0 THEN NULL ELSE 'order note ' || g END,
               timestamptz '2023-01-01 00:00:00+00' + (g * 61) * interval '1 second',
               g % 3 = 0
        FROM generate_series(1::bigint, {rows}::bigint) g;
        ANALYZE {SCHEMA}.{TABLE};
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


BASELINE = textwrap.dedent("""
    import json, os, sys, time
    from pyspark.sql import SparkSession
    kind, jars, out = sys.argv[1], sys.argv[2], sys.argv[3]
    db = json.loads(os.environ["BENCH_DB"])
    t = time.perf_counter()
    spark = (SparkSession.builder.master("local[*]").config("spark.jars", jars)
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = (spark.read.format("jdbc").option("url", db["pg_url"])
          .option("driver", "org.postgresql.Driver").option("user", db["pg_user"])
          .option("password", db["pg_password"]).option("dbtable", "{schema}.{table}").load())
    if kind == "parquet":
        df.write.mode("overwrite").parquet(out)
    else:
        (df.write.format("jdbc").mode("overwrite")
         .option("url", db["maria_url"])
         .option("driver", "org.mariadb.jdbc.Driver").option("user", db["maria_user"])
         .option("password", db["maria_password"]).option("dbtable", "bench_spark_baseline")
         .option("batchsize", "10000").save())
    spark.stop()
    print(time.perf_counter() - t)
""").replace("{schema}", SCHEMA).replace("{table}", TABLE)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"benchmark step failed: {' '.join(cmd[:4])} …")
    return elapsed, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", 5_000_000)))
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    parser.add_argument("--memory", action="store_true",
                        help="also run the native paths' peak-memory case (4x the rows)")
    parser.add_argument("--no-native", action="store_true",
                        help="skip the native-path targets (benchmarks/native.py)")
    args = parser.parse_args()

    generate(args.rows)
    work = Path(tempfile.mkdtemp(prefix="dvt-bench-"))
    home, lake = work / "home", work / "lake"
    write_profiles(home, lake)
    env = dict(os.environ, DVT_HOME=str(home), DVT_PROFILES_DIR=str(home))
    # The baseline's logins travel in the environment, not on its command line.
    env["BENCH_DB"] = json.dumps({"pg_url": PG_URL, "pg_user": PGA.user,
                                  "pg_password": PGA.password, "maria_url": MARIADB_URL,
                                  "maria_user": MDBA.user, "maria_password": MDBA.password})
    dvt = str(BIN / "dvt")
    timed([dvt, "sync", "--profile", "bench", "--repository", f"file://{DEBIAN_REPO}"], env)
    jars = ",".join(str(p) for p in sorted((home / "jars").glob("*.jar")))

    results = []
    for kind, target in (("parquet", "lake"), ("mariadb", "maria")):
        dvt_seconds, out = timed(
            [dvt, "transfer", "--profile", "bench", "--source", "pg", "--table",
             f"{SCHEMA}.{TABLE}", "--target", target, "--target-table", "bench_dvt", "--json"],
            env,
        )
        stats = json.loads(out)
        spark_seconds, _ = timed([sys.executable, "-c", BASELINE, kind, jars,
                                  str(work / "baseline-parquet")], env)
        results.append({
            "case": f"postgres -> {kind}",
            "rows": stats["rows"],
            "dvt_seconds": round(dvt_seconds, 2),
            "spark_jdbc_defaults_seconds": round(spark_seconds, 2),
            "speedup": round(spark_seconds / dvt_seconds, 2),
            "dvt_rows_per_second": stats["rows_per_second"],
            "dvt_mb_per_second": stats["mb_per_second"],
            "bytes": stats["bytes"],
            "bytes_kind": stats["bytes_kind"],
            "connector": stats["connector"],
            "partitions": stats["partitions"],
        })
    mariadb("DROP TABLE IF EXISTS bench_dvt; DROP TABLE IF EXISTS bench_spark_baseline;")
    shutil.rmtree(work, ignore_errors=True)

    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "python": platform.python_version()}
    print(f"\nrows: {args.rows:,}   machine: {machine['cpus']} cores, {machine['platform']}")
    header = f"{'case':<22}{'dvt s':>8}{'spark s':>9}{'speedup':>9}{'rows/s':>12}{'MB/s':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        mbps = r["dvt_mb_per_second"]
        print(f"{r['case']:<22}{r['dvt_seconds']:>8.1f}{r['spark_jdbc_defaults_seconds']:>9.1f}"
              f"{r['speedup']:>8.2f}x{r['dvt_rows_per_second']:>12,.0f}"
              f"{'' if mbps is None else format(mbps, '.1f'):>8}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    document = {"when": stamp, "rows": args.rows, "machine": machine, "results": results}
    path = out_dir / f"bench-{stamp}.json"
    path.write_text(json.dumps(document, indent=2))
    print(f"\nresults written to {path}")

    if not args.no_native:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import native  # the native paths' speed targets, measured in this same run

        native.run(args.rows, out_dir, memory=args.memory)


if __name__ == "__main__":
    main()
