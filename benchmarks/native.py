"""Native bulk paths against Spark's JDBC source and writer, measured in one run.

Every figure is a wall-clock measurement taken here (nothing is estimated). The speed targets of
the native-paths issue, each printed as a ratio with PASS/FAIL:

  1. PostgreSQL -> Parquet in a running Spark session: >= 4x faster than Spark JDBC at
     defaults, and within 2.5x of binary COPY to /dev/null;
  2. the same through `dvt transfer` (a fresh process: Spark start-up included): >= 2.5x faster
     than a fresh process running Spark JDBC at defaults;
  3. Parquet -> PostgreSQL and Parquet -> MariaDB: >= 3x faster than Spark JDBC batched inserts
     (batchsize 10000, reWriteBatchedInserts / rewriteBatchedStatements on);
  4. peak memory (the whole process tree of `dvt transfer`, sampled) at N and 4N rows within
     1.5x of each other (``--memory``).

Both ways the rows reach Spark from PostgreSQL are timed (``arrow``: batches handed to Spark by a
Python data source; ``parquet``: staged files read back), which is how the default was chosen.

    python benchmarks/native.py --rows 5000000 [--memory] [--out bench-results]

``benchmarks/run.py`` calls :func:`run`.
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
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
import dvt_services  # noqa: E402  (where the servers `make services` brings up are)

_SERVERS = dvt_services.addresses()
PG: dict[str, Any] = _SERVERS["postgres"].as_dict()
MARIADB: dict[str, Any] = _SERVERS["mariadb"].as_dict()
SCHEMA, TABLE = "dvt_nbench", "orders"
DEBIAN_REPO = "/usr/share/maven-repo"
PG_JAR = f"{DEBIAN_REPO}/org/postgresql/postgresql/42.5.5/postgresql-42.5.5.jar"
MARIADB_JAR = (f"{DEBIAN_REPO}/org/mariadb/jdbc/mariadb-java-client/2.7.6/"
               "mariadb-java-client-2.7.6.jar")
PG_URL = f"jdbc:postgresql://{PG['host']}:{PG['port']}/{PG['database']}"
MARIADB_URL = (f"jdbc:mysql://{MARIADB['host']}:{MARIADB['port']}/{MARIADB['database']}"
               "?permitMysqlScheme")

TARGETS = {
    "pg_parquet_vs_jdbc": 4.0,
    "pg_parquet_vs_copy": 2.5,
    "cli_vs_jdbc": 2.5,
    "parquet_pg_vs_jdbc": 3.0,
    "parquet_mariadb_vs_jdbc": 3.0,
    "memory_ratio": 1.5,
}


def pg_execute(sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"],
                         password=PG["password"], dbname=PG["database"],
                         autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall()) if cur.description else []


def maria_execute(sql: str) -> None:
    import pymysql

    conn = pymysql.connect(host=MARIADB["host"], port=MARIADB["port"], user=MARIADB["user"],
                           password=MARIADB["password"], database=MARIADB["database"],
                           autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def generate(rows: int, table: str = TABLE) -> None:
    """The bench table (8 mixed columns), once per row count: generate_series in PostgreSQL."""
    found = pg_execute(f"SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                       f"'{SCHEMA}' AND table_name = '{table}'")
    if found[0][0] and pg_execute(f"SELECT count(*) FROM {SCHEMA}.{table}")[0][0] == rows:
        print(f"reusing {SCHEMA}.{table} ({rows:,} rows)", flush=True)
        # statistics as autovacuum keeps them on a table at rest (a server restarted since the
        # table was made may have lost the time of the last ANALYZE)
        pg_execute(f"ANALYZE {SCHEMA}.{table}")
        return
    print(f"generating {SCHEMA}.{table} with {rows:,} rows ...", flush=True)
    pg_execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    pg_execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table}")
    pg_execute(textwrap.dedent(f"""
        CREATE TABLE {SCHEMA}.{table} (
          id bigint PRIMARY KEY, customer_id integer NOT NULL, amount numeric(12,2),
          price double precision, status text, note varchar(64),
          created_at timestamptz, is_active boolean)"""))
    pg_execute(textwrap.dedent(f"""
        INSERT INTO {SCHEMA}.{table}
        SELECT g, (g * 7919) % 50000, ((g * 37) % 100000) / 100.0, g * 0.25,
               (ARRAY['placed','shipped','delivered','returned'])[1 + g % 4],
               CASE WHEN g % 7 = 0 THEN NULL ELSE 'order note ' || g END,
               timestamptz '2023-01-01 00:00:00+00' + (g * 61) * interval '1 second',
               g % 3 = 0
        FROM generate_series(1::bigint, {rows}::bigint) g;
        SELECT pg_stat_force_next_flush()"""))
    # the inserts were reported above: reported after ANALYZE, they would count as changes
    # since it, and the planner would not trust its statistics
    pg_execute(f"ANALYZE {SCHEMA}.{table}")


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def copy_to_devnull(table: str = TABLE) -> float:
    """Binary COPY of the whole table, bytes read and dropped (the floor for any reader)."""
    import psycopg

    def run() -> None:
        with psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"],
                             password=PG["password"],
                             dbname=PG["database"]) as conn, conn.cursor() as cur, \
                cur.copy(f"COPY (SELECT * FROM {SCHEMA}.{table}) TO STDOUT "
                         "(FORMAT BINARY)") as copy:
            for _ in copy:
                pass

    return timed(run)


# ---- in one Spark session -------------------------------------------------------------------

def session_cases(rows: int, work: Path) -> dict[str, float]:
    from dvt_connect import spark as spark_mod
    from dvt_connect.config.buckets import LocalBucket
    from dvt_connect.config.profiles import parse_connection
    from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
    from dvt_connect.connectors.mysql_native.connector import MySQLNativeConnector
    from dvt_connect.connectors.postgres_native.connector import PostgresNativeConnector

    spark = spark_mod.get_session(spark_mod.session_spec(jars=[PG_JAR, MARIADB_JAR]))
    spark.range(1).collect()  # JVM warm

    def conn(name: str, data: dict[str, Any]) -> Any:
        return parse_connection(name, data, path=Path("bench.yml"), key=name)

    pg = conn("pg", {"type": "postgres", "host": PG["host"], "port": PG["port"],
                     "user": PG["user"], "password": PG["password"], "dbname": PG["database"],
                     "schema": SCHEMA})
    pg_staged = conn("pg", {"type": "postgres", "host": PG["host"], "port": PG["port"],
                            "user": PG["user"], "password": PG["password"],
                            "dbname": PG["database"],
                     "schema": SCHEMA,
                            "native_path": "parquet"})
    maria = conn("maria", {"type": "mariadb", "host": MARIADB["host"], "port": MARIADB["port"],
                           "user": MARIADB["user"], "password": MARIADB["password"],
                           "schema": MARIADB["database"]})
    bucket = LocalBucket(name="stage", source_file=Path("buckets.yml"), path=str(work / "stage"))
    out = work / "out"
    results: dict[str, float] = {}
    request = ReadRequest(table=TableRef(TABLE, SCHEMA))

    def native_to_parquet(connection: Any) -> None:
        connector = PostgresNativeConnector(spark, connection, bucket=bucket)
        try:
            df = connector.load(connector.plan_read(request))
            df.write.mode("overwrite").parquet(str(out))
        finally:
            connector.cleanup()

    def jdbc_defaults() -> None:
        (spark.read.format("jdbc").option("url", PG_URL).option("driver", "org.postgresql.Driver")
         .option("user", PG["user"]).option("password", PG["password"])
         .option("dbtable", f"{SCHEMA}.{TABLE}").load()
         .write.mode("overwrite").parquet(str(out)))

    # Warm-up, not timed: the first Spark job of each kind pays for Python worker start-up,
    # imports and JIT compilation; each path runs once on a small table first.
    generate(20_000, "warm")
    warm = ReadRequest(table=TableRef("warm", SCHEMA))
    for connection in (pg, pg_staged):
        connector = PostgresNativeConnector(spark, connection, bucket=bucket)
        connector.load(connector.plan_read(warm)).write.mode("overwrite").parquet(str(out))
        connector.cleanup()
        PostgresNativeConnector(spark, pg).write_dataframe(
            spark.read.parquet(str(out)), WriteRequest(table=TableRef("warm_copy", SCHEMA)))
    MySQLNativeConnector(spark, maria).write_dataframe(
        spark.read.parquet(str(out)), WriteRequest(table=TableRef("dvt_nbench_warm")))
    (spark.read.format("jdbc").option("url", PG_URL).option("driver", "org.postgresql.Driver")
     .option("user", PG["user"]).option("password", PG["password"])
     .option("dbtable", f"{SCHEMA}.warm").load()
     .write.mode("overwrite").parquet(str(out)))
    pg_execute(f"DROP TABLE IF EXISTS {SCHEMA}.warm_copy")
    maria_execute("DROP TABLE IF EXISTS dvt_nbench_warm")

    print("timing PostgreSQL -> Parquet in one session ...", flush=True)
    results["copy_devnull_s"] = copy_to_devnull()
    results["native_arrow_parquet_s"] = timed(lambda: native_to_parquet(pg))
    results["native_staged_parquet_s"] = timed(lambda: native_to_parquet(pg_staged))
    results["spark_jdbc_defaults_parquet_s"] = timed(jdbc_defaults)

    source = work / "source.parquet"
    native_to_parquet(pg)
    shutil.move(str(out), str(source))
    df = spark.read.parquet(str(source))

    def jdbc_write(url: str, driver: str, props: dict[str, str], table: str) -> None:
        writer = (df.write.format("jdbc").mode("overwrite").option("url", url)
                  .option("driver", driver).option("dbtable", table).option("batchsize", "10000"))
        for key, value in props.items():
            writer = writer.option(key, value)
        writer.save()

    print("timing Parquet -> PostgreSQL and -> MariaDB ...", flush=True)
    target = "dvt_nbench_target"
    results["native_parquet_to_pg_s"] = timed(lambda: PostgresNativeConnector(spark, pg)
                                              .write_dataframe(df, WriteRequest(
                                                  table=TableRef(target, SCHEMA))))
    results["spark_jdbc_parquet_to_pg_s"] = timed(lambda: jdbc_write(
        PG_URL, "org.postgresql.Driver",
        {"user": PG["user"], "password": PG["password"], "reWriteBatchedInserts": "true"},
        f"{SCHEMA}.{target}_jdbc"))
    pg_execute(f"DROP TABLE IF EXISTS {SCHEMA}.{target}; "
               f"DROP TABLE IF EXISTS {SCHEMA}.{target}_jdbc")
    results["native_parquet_to_mariadb_s"] = timed(lambda: MySQLNativeConnector(spark, maria)
                                                   .write_dataframe(df, WriteRequest(
                                                       table=TableRef(target))))
    results["spark_jdbc_parquet_to_mariadb_s"] = timed(lambda: jdbc_write(
        MARIADB_URL, "org.mariadb.jdbc.Driver",
        {"user": MARIADB["user"], "password": MARIADB["password"],
         "rewriteBatchedStatements": "true"}, f"{target}_jdbc"))
    maria_execute(f"DROP TABLE IF EXISTS {target}, {target}_jdbc")
    spark_mod.stop_session()
    return results


# ---- fresh processes: the CLI, Spark start-up included ---------------------------------------

BASELINE = textwrap.dedent("""
    import json, os, sys
    from pyspark.sql import SparkSession
    jars, out, table = sys.argv[1], sys.argv[2], sys.argv[3]
    db = json.loads(os.environ["BENCH_DB"])  # the login, kept off the command line
    spark = (SparkSession.builder.master("local[*]").config("spark.jars", jars)
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    (spark.read.format("jdbc").option("url", db["url"])
     .option("driver", "org.postgresql.Driver").option("user", db["user"])
     .option("password", db["password"]).option("dbtable", table).load()
     .write.mode("overwrite").parquet(out))
    spark.stop()
""")


def write_profiles(home: Path, lake: Path, *, mariadb: bool = False) -> None:
    """The bench profile: `pg` and the `lake` folder, and with ``mariadb`` a `maria` output."""
    outputs = {
        "pg": {"type": "postgres", "host": PG["host"], "port": PG["port"], "user": PG["user"],
               "password": PG["password"], "dbname": PG["database"], "schema": SCHEMA,
               "packages": ["org.postgresql:postgresql:42.5.5"]},
        "lake": {"type": "files", "path": str(lake), "format": "parquet"},
    }
    if mariadb:
        outputs["maria"] = {"type": "mariadb", "host": MARIADB["host"],
                            "port": MARIADB["port"], "user": MARIADB["user"],
                            "password": MARIADB["password"], "database": MARIADB["database"],
                            "packages": ["org.mariadb.jdbc:mariadb-java-client:2.7.6"]}
    home.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: no quoting rules to get wrong for a password
    (home / "profiles.yml").write_text(json.dumps(
        {"bench": {"target": "lake", "outputs": outputs}}, indent=2))


class TreeMemory:
    """Peak memory of a process and all its descendants, sampled every 100 ms, two ways:
    ``peak``, the sum of their resident sets (RSS: a page mapped by several processes counts in
    each), and ``peak_pss``, the sum of their proportional sets (PSS, from
    ``/proc/<pid>/smaps_rollup``: a shared page counts once, split between the processes that
    map it, so forked Python workers sharing their parent's pages are not counted twice).
    ``peak_pss`` is None where the kernel has no ``smaps_rollup`` (Linux before 4.14)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.peak_pss: int | None = 0 if Path("/proc/self/smaps_rollup").exists() else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree = self._tree()
            self.peak = max(self.peak, sum(rss for _, rss in tree))
            if self.peak_pss is not None:
                self.peak_pss = max(self.peak_pss, sum(_pss(pid) for pid, _ in tree))
            time.sleep(0.1)

    def _tree(self) -> list[tuple[int, int]]:
        """(pid, RSS bytes) of the process and its descendants now."""
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            if pid in rss:
                found.append((pid, rss[pid]))
            todo.extend(children.get(pid, []))
        return found


def _pss(pid: int) -> int:
    """A process's proportional set size in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class StepFailed(SystemExit):
    """A benchmark step's process exited non-zero; its exit code and output are kept, so a
    caller can tell a refusal (exit 2, the error on stdout with ``--json``) from a failure."""

    def __init__(self, cmd: list[str], returncode: int, out: str, err: str) -> None:
        super().__init__(f"benchmark step failed (exit {returncode}): {' '.join(cmd[:4])} ..."
                         f"\n{(out + err)[-6000:]}")
        self.returncode, self.out, self.err = returncode, out, err


def run_process(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``cmd``; (wall seconds, peak memory of its process tree (summed RSS), stdout)."""
    elapsed, memory, out = run_measured(cmd, env)
    return elapsed, memory.peak, out


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, TreeMemory, str]:
    """Run ``cmd``; (wall seconds, its process tree's peak memory, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    with TreeMemory(proc.pid) as memory:
        out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise StepFailed(cmd, proc.returncode, out, err)
    return elapsed, memory, out


def cli_cases(rows: int, work: Path, memory_rows: int | None) -> dict[str, Any]:
    home, lake = work / "home", work / "lake"
    write_profiles(home, lake)
    env = dict(os.environ, DVT_HOME=str(home), DVT_PROFILES_DIR=str(home),
               PYSPARK_PYTHON=sys.executable,
               BENCH_DB=json.dumps({"url": PG_URL, "user": PG["user"],
                                    "password": PG["password"]}))
    dvt = str(Path(sys.executable).parent / "dvt")
    run_process([dvt, "sync", "--profile", "bench", "--repository", f"file://{DEBIAN_REPO}"],
                env)
    results: dict[str, Any] = {}

    def transfer(table: str) -> tuple[float, int, dict[str, Any]]:
        seconds, peak, out = run_process(
            [dvt, "transfer", "--profile", "bench", "--source", "pg", "--table",
             f"{SCHEMA}.{table}", "--target", "lake", "--target-table", table, "--json"], env)
        return seconds, peak, json.loads(out)

    print("timing `dvt transfer` and a fresh Spark JDBC process ...", flush=True)
    seconds, peak, stats = transfer(TABLE)
    results.update(cli_native_s=seconds, cli_native_peak_bytes=peak,
                   cli_connector=stats.get("connector"), cli_rows=stats.get("rows"))
    seconds, _, _ = run_process([sys.executable, "-c", BASELINE, PG_JAR, str(work / "baseline"),
                                 f"{SCHEMA}.{TABLE}"], env)
    results["cli_spark_jdbc_defaults_s"] = seconds
    if memory_rows:
        big = f"{TABLE}_big"
        generate(memory_rows, big)
        seconds, peak, stats = transfer(big)
        results.update(cli_native_big_s=seconds, cli_native_big_peak_bytes=peak,
                       memory_rows=memory_rows)
    return results


def ratios(r: dict[str, Any]) -> list[tuple[str, str, float | None, float, bool | None]]:
    """(key, what, measured ratio, target, passed) for every speed target."""
    def div(a: str, b: str) -> float | None:
        return r[a] / r[b] if r.get(a) and r.get(b) else None

    rows = [
        ("pg_parquet_vs_jdbc", "PG->Parquet in session: Spark JDBC / native (>= 4x)",
         div("spark_jdbc_defaults_parquet_s", "native_parquet_s"), 4.0, True),
        ("pg_parquet_vs_copy", "PG->Parquet in session: native / COPY to /dev/null (<= 2.5x)",
         div("native_parquet_s", "copy_devnull_s"), 2.5, False),
        ("cli_vs_jdbc", "PG->Parquet via CLI: Spark JDBC process / dvt transfer (>= 2.5x)",
         div("cli_spark_jdbc_defaults_s", "cli_native_s"), 2.5, True),
        ("parquet_pg_vs_jdbc", "Parquet->PG: Spark JDBC batched / native (>= 3x)",
         div("spark_jdbc_parquet_to_pg_s", "native_parquet_to_pg_s"), 3.0, True),
        ("parquet_mariadb_vs_jdbc", "Parquet->MariaDB: Spark JDBC batched / native (>= 3x)",
         div("spark_jdbc_parquet_to_mariadb_s", "native_parquet_to_mariadb_s"), 3.0, True),
        ("memory_ratio", "peak memory 4N rows / N rows (<= 1.5x)",
         div("cli_native_big_peak_bytes", "cli_native_peak_bytes"), 1.5, False),
    ]
    out = []
    for key, what, value, target, at_least in rows:
        passed = None if value is None else (value >= target if at_least else value <= target)
        out.append((key, what, value, target, passed))
    return out


def run(rows: int, out_dir: Path, *, memory: bool = False, cli: bool = True) -> dict[str, Any]:
    generate(rows)
    work = Path(tempfile.mkdtemp(prefix="dvt-native-bench-"))
    try:
        results: dict[str, Any] = session_cases(rows, work)
        # the targets are judged on the default path (both are printed)
        from dvt_connect.connectors.arrow_bulk.connector import DEFAULT_PATH

        results["native_parquet_s"] = results[
            "native_arrow_parquet_s" if DEFAULT_PATH == "arrow" else "native_staged_parquet_s"]
        if cli:
            results.update(cli_cases(rows, work, 4 * rows if memory else None))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "python": platform.python_version(),
               "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                   / 1024**3, 1)}
    table = ratios(results)
    print(f"\nrows: {rows:,}   machine: {machine['cpus']} cores, {machine['memory_gib']} GiB, "
          f"{machine['platform']}")
    for key in sorted(k for k in results if k.endswith("_s")):
        print(f"  {key:<36}{results[key]:>9.2f} s")
    for key in ("cli_native_peak_bytes", "cli_native_big_peak_bytes"):
        if key in results:
            print(f"  {key:<36}{results[key] / 1024**2:>9.0f} MiB")
    print(f"\n{'target':<66}{'ratio':>8}  result")
    for _, what, value, _, passed in table:
        shown = "n/a" if value is None else f"{value:.2f}x"
        verdict = "not run" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{what:<66}{shown:>8}  {verdict}")
    return save(out_dir, "native-bench", {
        "rows": rows, "machine": machine, "results": results,
        "targets": [{"key": k, "what": w, "ratio": v, "target": t, "passed": p}
                    for k, w, v, t, p in table]})


def save(out_dir: Path, prefix: str, document: dict[str, Any]) -> dict[str, Any]:
    """Write ``document`` (stamped with the time) as ``<prefix>-<time>.json`` in ``out_dir``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    document = {"when": stamp, **document}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{prefix}-{stamp}.json"
    path.write_text(json.dumps(document, indent=2))
    print(f"\nresults written to {path}")
    return document


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", 5_000_000)))
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    parser.add_argument("--memory", action="store_true",
                        help="also transfer 4x the rows and compare peak memory")
    parser.add_argument("--no-cli", action="store_true", help="skip the fresh-process cases")
    args = parser.parse_args(argv)
    run(args.rows, Path(args.out), memory=args.memory, cli=not args.no_cli)


if __name__ == "__main__":
    main()
