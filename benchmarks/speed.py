"""The speed issue's bench: every path and its baselines, each a fresh process, in one run.

For each size in ``BENCH_SIZES`` (default ``1000000,5000000,20000000``; ``--sizes``) a PostgreSQL
table of 8 mixed columns is generated, then each case runs ``BENCH_REPEAT`` times (default 3;
the median is kept; in rounds, each round running every case once, so that a case and its
baselines are timed across the same minutes) as a fresh process whose whole process tree's
peak memory is sampled (as PSS, each page shared between processes counted once, and as summed
RSS; the memory target is judged on PSS, see :func:`memory_verdicts`):

  PostgreSQL -> Parquet   dvt (auto), dvt --route rows, dvt --connector jdbc; Spark JDBC at
                          defaults and tuned (4 partitions, fetchsize 10000); ConnectorX (no JVM);
                          binary COPY to /dev/null
  Parquet -> PostgreSQL   dvt; Spark JDBC batched; COPY FROM of CSV (psql)
  Parquet -> MariaDB      dvt; Spark JDBC batched; LOAD DATA LOCAL INFILE of CSV (mariadb client)
  PostgreSQL -> MariaDB   dvt; Spark JDBC read + batched write
  PostgreSQL -> PostgreSQL dvt; Spark JDBC read + batched write
  Spark start             a session started and stopped (the JVM's fixed cost)
  on the warm server      pg->parquet, parquet->pg, parquet->mariadb, pg->mariadb, pg->pg: dvt
                          with ``--master local-server``, each a fresh client process, on one
                          `dvt server` per size (started, warmed up by a 10,000-row transfer,
                          stopped at the end of the size; its start is reported on its own)
  in a session            pg->parquet through the Python API (``transfer.run.transfer``) in one
                          process whose session is started and warmed up first; timed inside

``BENCH_CASES`` (``--cases``) runs only the cases whose names contain one of its comma-separated
parts (``warm,connectorx``). A case Spark Connect refuses is reported as refused, with why.

Before each timed run the bench waits for a quiet machine (:func:`settle`, at most
``BENCH_SETTLE`` seconds, default 120), so that a case does not pay for background work left by
the one before (a server's flushing or checkpoint, a process still exiting): a 20M PostgreSQL ->
Parquet right after the 5M round's MariaDB and warm-server cases took 33.6 s where it takes 25 s
(the cause was not pinned down; right after a 5M MariaDB load by hand the machine was quiet
within a second). A wait longer than the two quiet windows it always takes is printed.

Every dvt output is verified against the source (count, sum of ids, of amounts, of timestamp
microseconds); a mismatch fails the bench. With two sizes or more, each path's fixed cost and
cost per million rows are fitted (least squares); with one size, seconds per million rows are
printed as measured. Ratios against the issue's targets are printed with PASS/FAIL (those whose
cases ran), and each warm case's time over the same move's cold one (what the warm engine saves).

    BENCH_SIZES=1000000 BENCH_REPEAT=1 python benchmarks/speed.py
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import native  # noqa: E402  (servers, table generator, process-tree memory)
import warm_server  # noqa: E402  (`dvt server start|stop` around the warm cases)

ROOT = Path(__file__).resolve().parent.parent
PG, MARIADB = native.PG, native.MARIADB
SCHEMA = native.SCHEMA
BIN = Path(sys.executable).parent
JARS = f"{native.PG_JAR},{native.MARIADB_JAR}"

# Spark baselines: one script, the case on its command line, logins in the environment.
SPARK = textwrap.dedent("""
    import json, os, sys
    from pyspark.sql import SparkSession
    case, source, out = sys.argv[1], sys.argv[2], sys.argv[3]
    db = json.loads(os.environ["BENCH_DB"])
    spark = (SparkSession.builder.master("local[*]").config("spark.jars", os.environ["BENCH_JARS"])
             .config("spark.ui.enabled", "false")
             .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    pg = dict(url=db["pg_url"], driver="org.postgresql.Driver", user=db["pg_user"],
              password=db["pg_password"])
    maria = dict(url=db["maria_url"], driver="org.mariadb.jdbc.Driver", user=db["maria_user"],
                 password=db["maria_password"])
    def read_pg(**extra):
        return spark.read.format("jdbc").options(**pg, dbtable=source, **extra).load()
    def write(df, opts, **extra):
        df.write.format("jdbc").mode("overwrite").options(**opts, dbtable=out, **extra).save()
    if case == "start":
        spark.range(1).collect()
    elif case == "pg_parquet_defaults":
        read_pg().write.mode("overwrite").parquet(out)
    elif case == "pg_parquet_tuned":
        lo, hi = db["bounds"]
        read_pg(partitionColumn="id", lowerBound=str(lo), upperBound=str(hi + 1),
                numPartitions="4", fetchsize="10000").write.mode("overwrite").parquet(out)
    elif case == "parquet_pg":
        write(spark.read.parquet(source), dict(pg, url=pg["url"] + "?reWriteBatchedInserts=true"),
              batchsize="10000")
    # Spark's MariaDB DDL makes a timestamp a TIMESTAMP (seconds, up to 2038-01-19 03:14:07):
    # the table's instants after that are refused and microseconds lost, so the table is made
    # beforehand with DATETIME(6) (the bench's `before`) and Spark only truncates it
    keep_table = dict(truncate="true")
    if case == "parquet_mariadb":
        write(spark.read.parquet(source),
              dict(maria, url=maria["url"] + "&rewriteBatchedStatements=true"),
              batchsize="10000", **keep_table)
    elif case == "pg_mariadb":
        write(read_pg(), dict(maria, url=maria["url"] + "&rewriteBatchedStatements=true"),
              batchsize="10000", **keep_table)
    elif case == "pg_pg":
        write(read_pg(), dict(pg, url=pg["url"] + "?reWriteBatchedInserts=true"),
              batchsize="10000")
    spark.stop()
""")

CONNECTORX = textwrap.dedent("""
    import json, os, sys
    import connectorx as cx, pyarrow.parquet as pq
    db = json.loads(os.environ["BENCH_DB"])
    table = cx.read_sql(db["pg_cx"], f"SELECT * FROM {sys.argv[1]}", return_type="arrow",
                        partition_on="id", partition_num=2)
    pq.write_table(table, sys.argv[2])
""")

COPY_DEVNULL = textwrap.dedent("""
    import json, os, sys, psycopg
    db = json.loads(os.environ["BENCH_DB"])
    with psycopg.connect(db["pg_cx"]) as conn, conn.cursor() as cur, cur.copy(
            f"COPY {sys.argv[1]} TO STDOUT (FORMAT BINARY)") as copy:
        for _ in copy:
            pass
""")


# ---- verification: the same four figures from the source and from each output ---------------

def pg_figures(table: str) -> tuple[int, int, str, int]:
    row = native.pg_execute(
        f"SELECT count(*), sum(id), sum(amount)::text, "
        f"sum((extract(epoch from created_at) * 1000000)::bigint) FROM {table}")[0]
    return int(row[0]), int(row[1]), str(row[2]), int(row[3])


def maria_figures(table: str) -> tuple[int, int, str, int]:
    import pymysql

    conn = pymysql.connect(host=MARIADB["host"], port=MARIADB["port"], user=MARIADB["user"],
                           password=MARIADB["password"], database=MARIADB["database"])
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*), sum(id), CAST(sum(amount) AS CHAR), "
                        f"sum(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created_at)) "
                        f"FROM {table}")
            row = cur.fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1]), str(row[2]), int(row[3])


def parquet_figures(path: Path) -> tuple[int, int, str, int]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(path, columns=["id", "amount", "created_at"])
    micros = pc.sum(t.column("created_at").cast(pa.timestamp("us", "UTC")).cast(pa.int64())
                    .cast(pa.decimal128(38, 0)))  # int64 sums overflow
    return (t.num_rows, int(pc.sum(t.column("id")).as_py()),
            str(pc.sum(t.column("amount")).as_py()), int(micros.as_py()))


def same(source: tuple[int, int, str, int], out: tuple[int, int, str, int]) -> bool:
    from decimal import Decimal

    return (source[0], source[1], Decimal(source[2]), source[3]) == (
        out[0], out[1], Decimal(out[2]), out[3])


def reader_library() -> str:
    """Which library the native PostgreSQL reads load (`dvt sync` fetched it, or not)."""
    from dvt_connect.databases import database
    from dvt_connect.reader_libraries import present

    library = database("postgres").native.reader_library  # type: ignore[union-attr]
    path = present(library)
    return f"{library.name}'s library, {path}" if path and library else \
        "the installed adbc-driver-postgresql (no reader library)"


SETTLE_LIMIT = float(os.environ.get("BENCH_SETTLE", "120"))
QUIET_BUSY = 0.10  # a window is quiet when at most this share of all cores was busy (or iowait)
QUIET_WINDOW = 0.5  # seconds


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot: iowait counts as busy (a flush), time
    stolen by the hypervisor does not (no wait here ends it); guest time is inside user's.
    The bench's own process is not counted (its thread sampling the warm server's memory)."""
    with open("/proc/stat", encoding="ascii") as stat:
        user, nice, system, idle, iowait, irq, softirq, steal = \
            [int(v) for v in stat.readline().split()[1:9]]
    with open("/proc/self/stat", encoding="ascii") as own:
        text = own.read()
    mine = sum(int(v) for v in text[text.rindex(")") + 2:].split()[11:13])  # utime, stime
    busy = user + nice + system + iowait + irq + softirq
    return busy - mine, busy + idle + steal


def settle(limit: float | None = None) -> tuple[float, bool]:
    """Wait until two windows in a row are quiet (:data:`QUIET_BUSY`), at most ``limit``
    seconds (:data:`SETTLE_LIMIT`); returns the seconds waited and whether it was quiet."""
    limit = SETTLE_LIMIT if limit is None else limit
    started = time.perf_counter()
    quiet_windows = 0
    busy, total = _cpu_times()
    while quiet_windows < 2:
        if time.perf_counter() - started >= limit:
            return time.perf_counter() - started, False
        time.sleep(QUIET_WINDOW)
        busy2, total2 = _cpu_times()
        share = (busy2 - busy) / max(total2 - total, 1)
        busy, total = busy2, total2
        quiet_windows = quiet_windows + 1 if share <= QUIET_BUSY else 0
    return time.perf_counter() - started, True


# ---- cases --------------------------------------------------------------------------------

# each dvt case on the warm server (`--master local-server`, a fresh client process) and the
# same move on its own JVM, for the warm/cold ratio
WARM = {
    "pg->parquet dvt warm": "pg->parquet dvt auto",
    "parquet->pg dvt warm": "parquet->pg dvt",
    "parquet->mariadb dvt warm": "parquet->mariadb dvt",
    "pg->mariadb dvt warm": "pg->mariadb dvt",
    "pg->pg dvt warm": "pg->pg dvt",
}
# the product's Python API in one process with a running session (timed in that process)
SESSION = "pg->parquet dvt warm session"
COLD_OF = {**WARM, SESSION: "pg->parquet dvt auto"}

# every case, in the order a size runs them; BENCH_CASES / --cases pick some by substring
CASES = (
    "spark start",
    "pg->parquet dvt auto", "pg->parquet dvt installed reader", "pg->parquet dvt rows",
    "pg->parquet dvt jdbc",
    "pg->parquet spark defaults", "pg->parquet spark tuned", "pg->parquet connectorx",
    "pg binary COPY /dev/null",
    "parquet->pg dvt", "parquet->pg spark batched", "parquet->pg COPY FROM csv",
    "parquet->mariadb dvt", "parquet->mariadb spark batched", "parquet->mariadb LOAD DATA",
    "pg->mariadb dvt", "pg->mariadb spark jdbc", "pg->pg dvt", "pg->pg spark jdbc",
    *WARM, SESSION,
)
# the small table that warms the server (and the session) before anything is timed
WARMUP_TABLE, WARMUP_ROWS = "orders_warmup", 10_000

SESSION_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from dvt_connect import spark as spark_mod
    from dvt_connect.config import load_project
    from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
    from dvt_connect.console import CaptureConsole
    from dvt_connect.transfer.job import start_session
    from dvt_connect.transfer.run import transfer
    source, warmup = sys.argv[1], sys.argv[2]
    clock = time.perf_counter()
    project = load_project(profile="bench")
    pg, lake = project.connection("pg"), project.connection("lake")
    spark = start_session(project, pg, lake).spark  # the synced jars, as `dvt transfer` does
    spark.range(1).collect()
    session_start = time.perf_counter() - clock
    def move(table, out, **options):
        started = time.perf_counter()
        stats = transfer(spark, pg, lake, ReadRequest(table=TableRef.parse(table)),
                         WriteRequest(table=TableRef(out)), console=CaptureConsole(), **options)
        return time.perf_counter() - started, stats
    warmup_seconds, _ = move(warmup, "warmup", connector="native")
    seconds, stats = move(source, "pg_out")
    print(json.dumps({"seconds": seconds, "session_start_seconds": session_start,
                      "warmup_seconds": warmup_seconds, "stats": stats.to_dict()}))
    spark_mod.stop_session()
""")


def select(filters: str | None) -> tuple[str, ...]:
    """The cases whose names contain one of the comma-separated ``filters`` (any case), in run
    order; every case when there is none. A filter matching no case is a ValueError."""
    wanted = [f.strip().lower() for f in (filters or "").split(",") if f.strip()]
    if not wanted:
        return CASES
    unknown = [f for f in wanted if not any(f in name.lower() for name in CASES)]
    if unknown:
        raise ValueError(f"no case matches {', '.join(repr(f) for f in unknown)}; the cases "
                         "are: " + ", ".join(CASES))
    return tuple(name for name in CASES if any(f in name.lower() for f in wanted))


def connect_refusal(failed: native.StepFailed) -> str | None:
    """The reason a `dvt transfer --json` on Spark Connect refused its outputs (exit 2, before
    anything was read or written), or None for any other failure."""
    if failed.returncode != 2 or not failed.out.strip():
        return None
    try:
        document = json.loads(failed.out.strip().splitlines()[-1])
    except ValueError:
        return None
    message = str(document.get("error", "")) if isinstance(document, dict) else ""
    return message if "cannot be used on Spark Connect" in message else None


def run_size(rows: int, repeat: int, work: Path,
             selected: tuple[str, ...] = CASES) -> tuple[dict[str, Any], dict[str, Any]]:
    """The selected cases at ``rows``: (results by case, the warm server's own figures)."""
    table = f"orders_{rows}"
    native.generate(rows, table)
    source = f"{SCHEMA}.{table}"
    home, lake = work / "home", work / "lake"
    native.write_profiles(home, lake, mariadb=True)
    bounds = native.pg_execute(f"SELECT min(id), max(id) FROM {source}")[0]
    db = {"pg_url": native.PG_URL, "pg_user": PG["user"], "pg_password": PG["password"],
          "maria_url": native.MARIADB_URL, "maria_user": MARIADB["user"],
          "maria_password": MARIADB["password"], "bounds": list(bounds),
          "pg_cx": f"postgresql://{PG['user']}:{PG['password']}@{PG['host']}:{PG['port']}/"
                   f"{PG['database']}"}
    env = dict(os.environ, DVT_HOME=str(home), DVT_PROFILES_DIR=str(home),
               PYSPARK_PYTHON=sys.executable, BENCH_DB=json.dumps(db), BENCH_JARS=JARS)
    dvt = str(BIN / "dvt")
    native.run_process([dvt, "sync", "--profile", "bench", "--repository",
                        f"file://{native.DEBIAN_REPO}"], env)
    print(f"PostgreSQL reads: {reader_library()}", flush=True)
    expected = pg_figures(source)
    results: dict[str, Any] = {}
    server: dict[str, Any] = {}

    def check(name: str, found: tuple[int, int, str, int]) -> None:
        if not same(expected, found):
            raise SystemExit(f"{name}: output differs from the source: {found} != {expected}")

    pending: list[dict[str, Any]] = []

    def case(name: str, cmd: list[str], verify: Callable[[], Any] | None = None,
             before: Callable[[], Any] | None = None, prepare: Callable[[], Any] | None = None,
             in_process: bool = False) -> None:
        """Add ``cmd`` to the next :func:`run_cases` if ``name`` is selected. ``prepare`` runs
        once first (an input the case reads), ``before`` before each run; ``in_process``: the
        process prints its own timing as JSON (``seconds``, ``stats`` and further figures)."""
        assert name in CASES, name
        if name in selected:
            pending.append({"name": name, "cmd": cmd, "verify": verify, "before": before,
                            "prepare": prepare, "in_process": in_process, "times": [],
                            "peaks": [], "pss": [], "stats": None, "figures": {}})

    def run_once(c: dict[str, Any]) -> bool:
        """One timed run of case ``c``; False when it is refused or a baseline failed (it is
        then reported as such and not run again)."""
        name, cmd = c["name"], c["cmd"]
        if c["before"] is not None:
            c["before"]()
        waited, quiet = settle()
        if waited > 2 * QUIET_WINDOW + 0.5:  # more than the two quiet windows it always takes
            print(f"  ({name}: waited {waited:.1f} s for a quiet machine"
                  + ("" if quiet else f", still busy after BENCH_SETTLE={SETTLE_LIMIT:g} s")
                  + ")", flush=True)
        try:
            seconds, memory, out = native.run_measured(cmd, env)
        except native.StepFailed as failed:
            reason = connect_refusal(failed) if "local-server" in cmd else None
            if reason is not None:
                results[name] = {"refused": reason}
                print(f"  {name:<28}refused on Spark Connect: {reason}", flush=True)
                return False
            if cmd[0] == dvt or c["in_process"]:
                raise  # ours: a failure fails the bench
            # a baseline that fails (Spark JDBC refusing a value) is reported, not timed
            why = baseline_failure(failed)
            results[name] = {"failed": why}
            print(f"  {name:<28}failed: {why}", flush=True)
            return False
        if c["in_process"]:
            c["figures"] = json.loads(out.strip().splitlines()[-1])
            seconds, c["stats"] = c["figures"].pop("seconds"), c["figures"].pop("stats")
        elif cmd[0] == dvt:
            c["stats"] = json.loads(out)
        c["times"].append(seconds)
        c["peaks"].append(memory.peak)
        c["pss"].append(memory.peak_pss)
        if c["verify"] is not None:
            check(name, c["verify"]())
        return True

    def run_cases() -> None:
        """The cases added since the last call, round by round: each round runs each case once,
        in the order they were added, so that a case and the baselines it is compared with are
        timed across the same minutes (the machine's speed drifts by 10% in an hour)."""
        if not pending:
            return
        for c in pending:
            if c["prepare"] is not None:
                c["prepare"]()
        running = list(pending)
        for round_number in range(1, repeat + 1):
            running = [c for c in running if run_once(c)]
            print(f"  round {round_number}/{repeat}: " + ", ".join(
                f"{c['name']} {c['times'][-1]:.1f} s" for c in running), flush=True)
        for c in pending:
            if c["name"] in results:  # refused or failed
                continue
            figures, stats = c["figures"], c["stats"]
            entry: dict[str, Any] = {
                "seconds": statistics.median(c["times"]), "runs": c["times"],
                "peak_mib": round(max(c["peaks"]) / 1024**2),
                "pss_mib": None if None in c["pss"] else round(max(c["pss"]) / 1024**2),
                **figures}
            if stats is not None:
                entry.update(connector=stats["connector"],
                             planning_parts=stats["planning_parts"],
                             planning_seconds=stats["planning_seconds"],
                             moving_seconds=stats["moving_seconds"], route=stats["notes"][0])
            results[c["name"]] = entry
            print(f"  {c['name']:<28}{entry['seconds']:>8.1f} s  {entry['peak_mib']:>6} MiB RSS"
                  + ("" if entry["pss_mib"] is None else f"  {entry['pss_mib']:>6} MiB PSS")
                  + (f"  ({entry.get('connector')})" if stats else "")
                  + (f"  in-process; session start {figures['session_start_seconds']:.1f} s, "
                     f"warm-up {figures['warmup_seconds']:.1f} s" if c["in_process"] else ""),
                  flush=True)
        pending.clear()

    def transfer(source_output: str, table_arg: str, target: str, target_table: str,
                 *extra: str) -> list[str]:
        return [dvt, "transfer", "--profile", "bench", "--source", source_output, "--table",
                table_arg, "--target", target, "--target-table", target_table, "--json", *extra]

    # inputs of this size, made when a selected case first needs them
    out_lake, parquet_in, csv = lake / "pg_out", lake / "pg_in", work / "in.csv"
    shutil.rmtree(out_lake, ignore_errors=True)
    shutil.rmtree(parquet_in, ignore_errors=True)
    csv.unlink(missing_ok=True)

    def parquet_input() -> None:
        """The Parquet the loads read: dvt's own output of the source, verified (moved here,
        untimed, when no PostgreSQL -> Parquet case has run at this size)."""
        if parquet_in.exists():
            return
        if not out_lake.exists():
            native.run_process(transfer("pg", source, "lake", "pg_out"), env)
            check("the loads' Parquet input", parquet_figures(out_lake))
        shutil.copytree(out_lake, parquet_in)

    def csv_input() -> None:
        if not csv.exists():
            _csv(source, csv)

    spark = [sys.executable, "-c", SPARK]
    print(f"\n{rows:,} rows, median of {repeat}:", flush=True)
    case("spark start", [*spark, "start", "-", "-"])
    case("pg->parquet dvt auto", transfer("pg", source, "lake", "pg_out"),
         lambda: parquet_figures(out_lake))
    # the same with the installed ADBC package reading instead of the reader library
    case("pg->parquet dvt installed reader",
         ["env", "DVT_READER_LIBRARIES=0", *transfer("pg", source, "lake", "pg_out")],
         lambda: parquet_figures(out_lake))
    case("pg->parquet dvt rows", transfer("pg", source, "lake", "pg_out", "--route", "rows",
                                          "--connector", "native"),
         lambda: parquet_figures(out_lake))
    case("pg->parquet dvt jdbc", transfer("pg", source, "lake", "pg_out", "--connector",
                                          "jdbc"), lambda: parquet_figures(out_lake))
    case("pg->parquet spark defaults", [*spark, "pg_parquet_defaults", source,
                                        str(work / "spark_out")],
         lambda: parquet_figures(work / "spark_out"))
    case("pg->parquet spark tuned", [*spark, "pg_parquet_tuned", source,
                                     str(work / "spark_out")],
         lambda: parquet_figures(work / "spark_out"))
    case("pg->parquet connectorx", [sys.executable, "-c", CONNECTORX, source,
                                    str(work / "cx.parquet")],
         lambda: parquet_figures(work / "cx.parquet"))
    case("pg binary COPY /dev/null", [sys.executable, "-c", COPY_DEVNULL, source])

    case("parquet->pg dvt", transfer("lake", "pg_in", "pg", "bench_out"),
         lambda: pg_figures(f"{SCHEMA}.bench_out"), prepare=parquet_input)
    case("parquet->pg spark batched", [*spark, "parquet_pg", str(parquet_in),
                                       f"{SCHEMA}.bench_spark"], prepare=parquet_input)
    like = f"CREATE TABLE {SCHEMA}.bench_copy (LIKE {source})"
    case("parquet->pg COPY FROM csv", [sys.executable, "-c", _PSQL_COPY, f"{SCHEMA}.bench_copy",
                                       str(csv)],
         lambda: pg_figures(f"{SCHEMA}.bench_copy"),
         before=lambda: native.pg_execute(f"DROP TABLE IF EXISTS {SCHEMA}.bench_copy; {like}"),
         prepare=csv_input)

    case("parquet->mariadb dvt", transfer("lake", "pg_in", "maria", "bench_out"),
         lambda: maria_figures("bench_out"), prepare=parquet_input)
    case("parquet->mariadb spark batched", [*spark, "parquet_mariadb", str(parquet_in),
                                            "bench_spark"], prepare=parquet_input,
         before=lambda: _maria_load_table("bench_spark"))
    case("parquet->mariadb LOAD DATA", [sys.executable, "-c", _LOAD_DATA, str(csv)],
         lambda: maria_figures("bench_load"), before=_maria_load_table, prepare=csv_input)

    case("pg->mariadb dvt", transfer("pg", source, "maria", "bench_out"),
         lambda: maria_figures("bench_out"))
    case("pg->mariadb spark jdbc", [*spark, "pg_mariadb", source, "bench_spark"],
         before=lambda: _maria_load_table("bench_spark"))
    case("pg->pg dvt", transfer("pg", source, "pg", "bench_out"),
         lambda: pg_figures(f"{SCHEMA}.bench_out"))
    case("pg->pg spark jdbc", [*spark, "pg_pg", source, f"{SCHEMA}.bench_spark"])
    run_cases()

    warmup = f"{SCHEMA}.{WARMUP_TABLE}"
    if any(name in selected for name in (*WARM, SESSION)):
        native.generate(WARMUP_ROWS, WARMUP_TABLE)
    if any(name in selected for name in WARM):
        # one server for the size's warm cases: started, warmed up by one small transfer on
        # the Arrow route, each case a fresh client process, then stopped (also on failure)
        def warm(*args: str) -> list[str]:
            return transfer(*args, "--master", "local-server")

        with warm_server.running_server(env) as (state, start_seconds), \
                native.TreeMemory(int(state["pid"])) as server_memory:
            warmup_seconds, _, _ = native.run_process(
                warm("pg", warmup, "lake", "warmup", "--connector", "native"), env)
            server.update(pid=state["pid"], start_seconds=round(start_seconds, 1),
                          warmup_seconds=round(warmup_seconds, 1))
            print(f"  warm server (pid {state['pid']}): started in {start_seconds:.1f} s, "
                  f"warm-up transfer of {WARMUP_ROWS:,} rows {warmup_seconds:.1f} s "
                  "(in no case below)", flush=True)
            case("pg->parquet dvt warm", warm("pg", source, "lake", "pg_out"),
                 lambda: parquet_figures(out_lake))
            case("parquet->pg dvt warm", warm("lake", "pg_in", "pg", "bench_out"),
                 lambda: pg_figures(f"{SCHEMA}.bench_out"), prepare=parquet_input)
            case("parquet->mariadb dvt warm", warm("lake", "pg_in", "maria", "bench_out"),
                 lambda: maria_figures("bench_out"), prepare=parquet_input)
            case("pg->mariadb dvt warm", warm("pg", source, "maria", "bench_out"),
                 lambda: maria_figures("bench_out"))
            case("pg->pg dvt warm", warm("pg", source, "pg", "bench_out"),
                 lambda: pg_figures(f"{SCHEMA}.bench_out"))
            run_cases()
        server["peak_mib"] = round(server_memory.peak / 1024**2)
        print(f"  warm server stopped; its own peak memory {server['peak_mib']} MiB (the warm "
              "cases' peaks are their client processes')", flush=True)
    case(SESSION, [sys.executable, "-c", SESSION_SCRIPT, source, warmup],
         lambda: parquet_figures(out_lake), in_process=True)
    run_cases()
    return results, server


def _csv(source: str, path: Path) -> None:
    """The source as CSV for the COPY FROM and LOAD DATA baselines (timestamps as UTC text)."""
    import psycopg

    with psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"],
                         password=PG["password"], dbname=PG["database"]) as conn, \
            conn.cursor() as cur, open(path, "wb") as out:
        cur.execute("SET TIME ZONE 'UTC'")
        with cur.copy(f"COPY (SELECT id, customer_id, amount, price, status, note, "
                      f"to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US'), is_active::int "
                      f"FROM {source}) TO STDOUT (FORMAT csv)") as copy:
            for data in copy:
                out.write(data)


def _maria_load_table(name: str = "bench_load") -> None:
    native.maria_execute(f"DROP TABLE IF EXISTS {name}")
    native.maria_execute(f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, customer_id INT, "
                         "amount DECIMAL(12,2), price DOUBLE, status TEXT, note VARCHAR(64), "
                         "created_at DATETIME(6), is_active BOOLEAN)")


_PSQL_COPY = textwrap.dedent("""
    import json, os, subprocess, sys
    db = json.loads(os.environ["BENCH_DB"])
    subprocess.run(["psql", db["pg_cx"], "-c", "SET TIME ZONE 'UTC'", "-c",
                    f"\\\\copy {sys.argv[1]} FROM '{sys.argv[2]}' (FORMAT csv)"], check=True,
                   stdout=subprocess.DEVNULL)
""")

_LOAD_DATA = textwrap.dedent("""
    import json, os, pymysql, sys
    db = json.loads(os.environ["BENCH_MARIA"])
    conn = pymysql.connect(local_infile=True, **db)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(f"LOAD DATA LOCAL INFILE '{sys.argv[1]}' INTO TABLE bench_load "
                    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\\"' "
                    "LINES TERMINATED BY '\\\\n' "
                    "(id, customer_id, amount, price, status, @note, created_at, is_active) "
                    "SET note = NULLIF(@note, '')")
    conn.commit()
""")


# ---- the report ----------------------------------------------------------------------------

TARGETS = (
    # (what, numerator case, denominator case, target, at least?)
    ("PG->Parquet dvt vs Spark JDBC defaults (>= 2.5x)", "pg->parquet spark defaults",
     "pg->parquet dvt auto", 2.5, True),
    ("PG->Parquet dvt / ConnectorX (<= 3x)", "pg->parquet dvt auto", "pg->parquet connectorx",
     3.0, False),
    ("PG->Parquet dvt warm server / ConnectorX (<= 1.5x)", "pg->parquet dvt warm",
     "pg->parquet connectorx", 1.5, False),
    ("PG->Parquet dvt in a session / ConnectorX (<= 1.5x)", SESSION, "pg->parquet connectorx",
     1.5, False),
    ("Parquet->PG dvt / COPY FROM (<= 1.5x)", "parquet->pg dvt", "parquet->pg COPY FROM csv",
     1.5, False),
    ("Parquet->MariaDB dvt / LOAD DATA (<= 1.3x)", "parquet->mariadb dvt",
     "parquet->mariadb LOAD DATA", 1.3, False),
    # the same two with the warm server: like ConnectorX, `COPY FROM` and `LOAD DATA` start no
    # JVM (shown beside the cold ratios above, which stay the targets' first measure)
    ("Parquet->PG dvt warm server / COPY FROM (<= 1.5x)", "parquet->pg dvt warm",
     "parquet->pg COPY FROM csv", 1.5, False),
    ("Parquet->MariaDB dvt warm server / LOAD DATA (<= 1.3x)", "parquet->mariadb dvt warm",
     "parquet->mariadb LOAD DATA", 1.3, False),
    ("PG->MariaDB dvt vs Spark JDBC (>= 4x)", "pg->mariadb spark jdbc", "pg->mariadb dvt", 4.0,
     True),
    ("PG->PG dvt vs Spark JDBC (>= 4x)", "pg->pg spark jdbc", "pg->pg dvt", 4.0, True),
)


def fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """(fixed seconds, seconds per million rows) by least squares over (millions, seconds)."""
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - slope * mx, slope


def baseline_failure(failed: native.StepFailed) -> str:
    """The line of a failed baseline's output that says why (a Java or Python exception's
    message), else its exit code."""
    lines = [line.strip() for line in (failed.out + failed.err).splitlines()]
    for marker in ("Caused by: ", "Exception: ", "Error: "):
        found = [line for line in lines if marker in line and not line.startswith("at ")]
        if found:
            return found[-1].split(marker, 1)[1][:200]
    return f"exit {failed.returncode}"


def seconds_of(results: dict[str, Any], name: str) -> float | None:
    """A case's median seconds; None when it did not run or was refused."""
    entry = results.get(name)
    return None if entry is None else entry.get("seconds")


def ratio_of(results: dict[str, Any], top: str, bottom: str) -> float | None:
    a, b = seconds_of(results, top), seconds_of(results, bottom)
    return None if a is None or not b else a / b


def report(by_size: dict[int, dict[str, Any]],
           servers: dict[int, dict[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Print the cases, the targets that could be measured and what the warm engine saves;
    return the verdicts and warm/cold ratios (by size) for the JSON."""
    sizes = sorted(by_size)
    names = [n for n in CASES if any(n in by_size[s] for s in sizes)]
    print(f"\n{'case':<32}" + "".join(f"{f'{s / 1e6:g}M s':>10}" for s in sizes)
          + f"{'fixed s':>9}{'s/M rows':>10}{'RSS MiB':>9}{'PSS MiB':>9}")
    for name in names:
        cells = []
        for s in sizes:
            entry = by_size[s].get(name)
            cells.append("-" if entry is None else "refused" if "refused" in entry
                         else "failed" if "failed" in entry else f"{entry['seconds']:.1f}")
        points = [(s / 1e6, t) for s in sizes if (t := seconds_of(by_size[s], name)) is not None]
        if not points:
            print(f"{name:<32}" + "".join(f"{c:>10}" for c in cells))
            continue
        fitted = fit(points)
        fixed, per = fitted if fitted else (None, points[-1][1] / points[-1][0])
        timed = [by_size[s][name] for s in sizes if seconds_of(by_size[s], name) is not None]
        peak = max(e["peak_mib"] for e in timed)
        pss = [e.get("pss_mib") for e in timed]
        shown = "-" if None in pss else str(max(p for p in pss if p is not None))
        print(f"{name:<32}" + "".join(f"{c:>10}" for c in cells)
              + f"{'-' if fixed is None else format(fixed, '.1f'):>9}{per:>10.1f}{peak:>9}"
              + f"{shown:>9}")
    for s, server in sorted((servers or {}).items()):
        if server:
            print(f"warm server at {s / 1e6:g}M: start {server['start_seconds']:.1f} s and "
                  f"warm-up {server['warmup_seconds']:.1f} s (once, in no case), its peak "
                  f"memory {server['peak_mib']} MiB")

    verdicts, skipped = [], 0
    print(f"\n{'target':<54}" + "".join(f"{f'{s / 1e6:g}M':>11}" for s in sizes))
    for what, top, bottom, target, at_least in TARGETS:
        ratios = {s: ratio_of(by_size[s], top, bottom) for s in sizes}
        if all(r is None for r in ratios.values()):
            skipped += 1
            continue
        cells, measured = [], {}
        for s, ratio in ratios.items():
            if ratio is None:
                cells.append("n/a")
                continue
            ok = ratio >= target if at_least else ratio <= target
            measured[s] = {"ratio": round(ratio, 2), "pass": ok}
            cells.append(f"{ratio:.2f}x {'ok' if ok else 'NO'}")
        verdicts.append({"target": what, "ratios": measured})
        print(f"{what:<54}" + "".join(f"{c:>11}" for c in cells))
    if skipped:
        print(f"({skipped} target(s) not measured: their cases were not run or were refused)")
    memory = memory_verdicts(by_size)

    saved: list[dict[str, Any]] = []
    warm = [name for name in COLD_OF if any(name in by_size[s] for s in sizes)]
    if warm:
        print(f"\n{'warm / cold (what the warm engine saves)':<54}"
              + "".join(f"{f'{s / 1e6:g}M':>16}" for s in sizes))
    for name in warm:
        cold, cells, measured = COLD_OF[name], [], {}
        for s in sizes:
            warm_s, cold_s = seconds_of(by_size[s], name), seconds_of(by_size[s], cold)
            if warm_s is None or not cold_s:
                cells.append("refused" if "refused" in by_size[s].get(name, {})
                             else "-" if warm_s is None else "cold not run")
                continue
            ratio, gain = warm_s / cold_s, cold_s - warm_s
            measured[s] = {"ratio": round(ratio, 2), "saved_seconds": round(gain, 1)}
            cells.append(f"{ratio:.2f}x ({-gain:+.1f} s)")
        saved.append({"case": name, "cold": cold, "ratios": measured})
        print(f"{f'{name} / {cold}':<54}" + "".join(f"{c:>16}" for c in cells))
    return {"targets": verdicts, "memory": memory, "warm_vs_cold": saved}


# the memory target: PostgreSQL -> Parquet through the CLI against Spark JDBC at defaults
MEMORY_CASES = ("pg->parquet dvt auto", "pg->parquet spark defaults")
FLAT_FROM = 5_000_000  # "flat from 5M to 20M rows": at most this much more at the largest size
FLAT_GROWTH = 1.10


def memory_verdicts(by_size: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Print and return the memory target at each size where both cases ran: the process
    tree's peak PSS (a page shared by forked processes counted once), with the summed RSS
    beside it (each shared page counted in every process that maps it: the measure of runs
    before 2026-12-03); RSS decides only where PSS could not be read. Then whether dvt's peak
    stays flat from 5M rows to the largest size."""
    by: dict[int, Any] = {}
    for s in sorted(by_size):
        dvt, spark = (by_size[s].get(n, {}) for n in MEMORY_CASES)
        if "peak_mib" not in dvt or "peak_mib" not in spark:
            continue
        measure = "pss_mib" if dvt.get("pss_mib") is not None and \
            spark.get("pss_mib") is not None else "peak_mib"
        ok = dvt[measure] <= spark[measure]
        by[s] = {"measure": "PSS" if measure == "pss_mib" else "RSS", "pass": ok,
                 "dvt_pss_mib": dvt.get("pss_mib"), "spark_pss_mib": spark.get("pss_mib"),
                 "dvt_rss_mib": dvt["peak_mib"], "spark_rss_mib": spark["peak_mib"]}
        pss = "" if measure != "pss_mib" else \
            f"PSS dvt {dvt['pss_mib']} MiB, Spark JDBC {spark['pss_mib']} MiB; "
        print(f"peak memory at {s / 1e6:g}M: {pss}summed RSS dvt {dvt['peak_mib']} MiB, Spark "
              f"JDBC {spark['peak_mib']} MiB ({'ok' if ok else 'NO'} on {by[s]['measure']})")
    flat = None
    large = [s for s in by if s >= FLAT_FROM]
    if len(large) >= 2:
        low, high = min(large), max(large)
        key = "dvt_pss_mib" if by[low]["measure"] == by[high]["measure"] == "PSS" \
            else "dvt_rss_mib"
        growth = by[high][key] / by[low][key]
        flat = {"from": low, "to": high, "growth": round(growth, 3),
                "pass": growth <= FLAT_GROWTH}
        print(f"dvt's peak from {low / 1e6:g}M to {high / 1e6:g}M rows: {by[low][key]} -> "
              f"{by[high][key]} MiB ({'ok' if flat['pass'] else 'NO'}: flat means at most "
              f"{FLAT_GROWTH - 1:.0%} more)")
    return {"by_size": {str(s): v for s, v in by.items()}, "flat": flat}


def prime_class_data_sharing() -> None:
    """dvt's JVM class-data-sharing archive is written once per PySpark installation, when the
    first session's JVM exits, and mapped by every later start: make sure it exists before
    anything is timed, so that no case pays that one-time cost (a fresh machine's first case
    did: 17.9 s instead of 9.0 s for pg->parquet at 5M)."""
    from dvt_connect.spark import cache_dir, class_data_sharing
    from dvt_connect.spark_home import driver_home

    home = driver_home(cache_dir())  # the archive is the Spark home's sessions start from
    options = class_data_sharing(cache_dir(), home)  # empty: DVT_CDS=0, or a JVM before 13
    if not options or any(o.startswith("-XX:SharedArchiveFile=") for o in options):
        return
    print("writing dvt's class-data-sharing archive (once per PySpark installation) ...",
          flush=True)
    script = ("from dvt_connect import spark; spark.get_session().range(1).collect(); "
              "spark.stop_session()")
    subprocess.run([sys.executable, "-c", script], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # its JVM writes the archive as it exits, after Python
        if any(o.startswith("-XX:SharedArchiveFile=")
               for o in class_data_sharing(cache_dir(), home)):
            return
        time.sleep(0.5)
    print("  (the archive was not written within 120 s: the first case may pay for it)")


def run(sizes: list[int], repeat: int, out_dir: Path,
        cases: tuple[str, ...] = CASES) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dvt-speed-bench-"))
    env_maria = {"host": MARIADB["host"], "port": MARIADB["port"], "user": MARIADB["user"],
                 "password": MARIADB["password"], "database": MARIADB["database"]}
    os.environ["BENCH_MARIA"] = json.dumps(env_maria)
    by_size: dict[int, dict[str, Any]] = {}
    servers: dict[int, dict[str, Any]] = {}
    prime_class_data_sharing()
    try:
        for rows in sizes:
            by_size[rows], servers[rows] = run_size(rows, repeat, work, cases)
    finally:
        native.maria_execute("DROP TABLE IF EXISTS bench_out")
        native.maria_execute("DROP TABLE IF EXISTS bench_spark")
        native.maria_execute("DROP TABLE IF EXISTS bench_load")
        native.pg_execute(f"DROP TABLE IF EXISTS {SCHEMA}.bench_out, {SCHEMA}.bench_spark, "
                          f"{SCHEMA}.bench_copy")
        shutil.rmtree(work, ignore_errors=True)
    machine: dict[str, Any] = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "load_average": os.getloadavg()}
    print(f"\nmachine: {machine['cpus']} cores, {machine['platform']}, load average "
          f"{machine['load_average'][0]:.1f}")
    verdicts = report(by_size, servers)
    return native.save(out_dir, "speed-bench", {
        "machine": machine, "repeat": repeat, "cases": list(cases),
        "results": {str(k): v for k, v in by_size.items()},
        "warm_server": {str(k): v for k, v in servers.items() if v}, **verdicts})


def main(argv: list[str] | None = None) -> None:
    import run as bench

    bench.main()


if __name__ == "__main__":
    main()
