"""PostgreSQL -> Delta Lake beside PostgreSQL -> Parquet: a full overwrite of each, then 1% of
the source changes and is merged into the Delta table.

One process, one Spark session started with the Delta runtime `dvt sync` put in the jars folder
(when it is missing, the bench runs `dvt sync` for a `format: delta` output itself, from Maven
Central, as a user would; or pass --jars-dir):
  1. timed: ``--mode overwrite`` into a Parquet folder (the product's own route choice);
  2. timed: ``--mode overwrite`` of the whole table into Delta (one commit);
  3. 1% of the source changes: half the changed rows updated, half new;
  4. timed: ``--mode merge --primary-key id`` of the changed rows (``--where`` on
     updated_at; ``MERGE INTO``, one commit).
Checks the Delta table against the source (count, sum(amount), sum(id); the table read with
Delta's own Spark reader, the source with psql) and the Parquet row count, and prints the
times; ``--out`` keeps them. `make bench` runs it in the lakehouse venv (PySpark 4.1); on a
Spark minor with no Delta build (PySpark 4.3) it says so and measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import dvt_services  # noqa: E402
from incremental import change_one_percent, generate  # noqa: E402  (the same source table)

PGA = dvt_services.addresses()["postgres"]
SCHEMA, SOURCE = "dvt_bench_lake", "orders"


def psql(sql: str) -> str:
    return PGA.client(sql, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int,
                        default=int(os.environ.get("BENCH_LAKE_ROWS", 5_000_000)))
    parser.add_argument("--jars-dir", help="the jars folder `dvt sync` filled (default: "
                                           "$DVT_HOME/jars)")
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    args = parser.parse_args()

    from dvt_connect import spark as spark_mod
    from dvt_connect.config.profiles import parse_connection
    from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
    from dvt_connect.console import CaptureConsole
    from dvt_connect.databases.files import DELTA, session_conf
    from dvt_connect.jars.manifest import Manifest
    from dvt_connect.jars.plan import synced_for_another_minor
    from dvt_connect.jars.spark_versions import installed_spark
    from dvt_connect.paths import jars_dir
    from dvt_connect.transfer.run import transfer

    minor = installed_spark().spark_minor
    if minor not in DELTA.runtime.releases:
        print(f"lakehouse bench: not measured: no Delta build for Spark {minor} "
              f"(builds for {', '.join(sorted(DELTA.runtime.releases))})")
        return
    folder = Path(args.jars_dir) if args.jars_dir else jars_dir()
    manifest = Manifest.load(folder)
    # absent, or synced under another PySpark (a build for another minor fails on this one)
    if manifest.missing_for([DELTA.need_key]) or synced_for_another_minor(
            DELTA, installed_spark(), manifest.needs.get(DELTA.need_key, ())):
        manifest = sync_delta(folder)
    pg_jar = sorted(Path("/usr/share/maven-repo").glob(
        "org/postgresql/postgresql/[0-9]*/postgresql-*.jar"))[-1]
    jars = [str(pg_jar), *(str(p) for p in manifest.jars_for([DELTA.need_key]))]
    spark = spark_mod.get_session(spark_mod.session_spec(jars=jars,
                                                         conf=session_conf(["delta"])))
    generate(args.rows, SCHEMA)
    pg = PGA.as_dict()
    source = parse_connection("pg", {"type": "postgres", "host": pg["host"], "port": pg["port"],
                                     "user": pg["user"], "password": pg.get("password", ""),
                                     "dbname": pg["database"], "schema": SCHEMA},
                              path=Path("profiles.yml"), key="bench.outputs.pg")
    lake = Path(tempfile.mkdtemp(prefix="dvt-bench-delta-"))
    target = parse_connection("lake", {"type": "files", "path": str(lake), "format": "delta"},
                              path=Path("profiles.yml"), key="bench.outputs.lake")
    parquet = parse_connection("parquet", {"type": "files", "path": str(lake / "parquet"),
                                           "format": "parquet"},
                               path=Path("profiles.yml"), key="bench.outputs.parquet")

    def run(where: str | None = None, into: Any = target, **write: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        stats = transfer(spark, source, into,
                         ReadRequest(table=TableRef(SOURCE, SCHEMA), where=where),
                         WriteRequest(table=TableRef("orders"), **write),
                         console=CaptureConsole())
        return time.perf_counter() - started, stats

    try:
        pq_s, pq = run(into=parquet, mode="overwrite")
        pq_rows = spark.read.parquet(f"file://{lake}/parquet/orders").count()
        print(f"parquet overwrite: {pq.rows:,} rows in {pq_s:.1f} s ({pq.rows / pq_s:,.0f} "
              f"rows/s; {pq.notes[0] if pq.notes else ''})")
        over_s, over = run(mode="overwrite")
        print(f"delta overwrite: {over.rows:,} rows in {over_s:.1f} s ({over.rows / over_s:,.0f} "
              f"rows/s; planning {over.planning_seconds:.1f} s)")
        changed = change_one_percent(args.rows, SCHEMA)
        # the changed rows only (generated rows are stamped 2026-01-01, changes now())
        merge_s, merge = run(where="updated_at >= '2026-06-01'", mode="merge",
                             primary_key=("id",))
        print(f"merge after 1% changed: {merge.rows:,} rows read, {merge.inserted:,} inserted, "
              f"{merge.updated:,} updated in {merge_s:.1f} s")
        src = [s.strip() for s in psql(
            f"SELECT count(*), sum(amount), sum(id) FROM {SCHEMA}.{SOURCE}").split("|")]
        row = spark.read.format("delta").load(f"file://{lake}/orders").selectExpr(
            "count(*)", "sum(amount)", "sum(id)").first()
        same = src == [str(v) for v in row]
        print(f"Delta table equals the source (count, sum(amount), sum(id)): {same}")
        print(f"Parquet folder holds the {args.rows:,} rows of its run: {pq_rows == args.rows}")
        result = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "rows": args.rows, "changed_rows": changed, "spark": minor,
            "parquet_overwrite_s": round(pq_s, 2), "parquet_rows_match": pq_rows == args.rows,
            "overwrite_s": round(over_s, 2), "merge_s": round(merge_s, 2),
            "merge_rows": merge.rows, "inserted": merge.inserted, "updated": merge.updated,
            "target_matches": same,
        }
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "lakehouse.json").write_text(json.dumps(result, indent=2) + "\n")
    finally:
        shutil.rmtree(lake, ignore_errors=True)
        psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    if not same or pq_rows != args.rows:
        sys.exit("the Delta table or the Parquet folder differs from the source")


def sync_delta(folder: Path) -> Any:
    """`dvt sync` for a profile with a `format: delta` output: the Delta runtime for the
    installed Spark from Maven Central into ``folder``."""
    import yaml

    from dvt_connect.console import CaptureConsole
    from dvt_connect.jars.manifest import Manifest
    from dvt_connect.jars.sync import SyncOptions, sync

    with tempfile.TemporaryDirectory(prefix="dvt-bench-sync-") as cfg:
        Path(cfg, "profiles.yml").write_text(yaml.safe_dump({"bench": {
            "target": "lake", "outputs": {"lake": {"type": "files", "path": cfg,
                                                   "format": "delta"}}}}))
        console = CaptureConsole()
        print("lakehouse bench: dvt sync of the Delta runtime …", flush=True)
        outcome = sync(SyncOptions(profiles_dir=cfg, profile="bench", jars_dir=folder),
                       console)
    if outcome.exit_code != 0:
        sys.exit(f"lakehouse bench: dvt sync failed:\n{console.text}")
    return Manifest.load(folder)


if __name__ == "__main__":
    main()
