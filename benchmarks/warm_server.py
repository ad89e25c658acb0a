"""What the warm local server saves per command: a fresh process reading a small PostgreSQL
table over JDBC and writing it as Parquet, on its own JVM (``local[*]``) and through the Spark
Connect server `dvt server start` runs (JVM and driver already warm).

Each run is a new Python process, as each `dvt` command is. Prints the wall times and medians;
``--out`` keeps them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))
import dvt_services  # noqa: E402

PGA = dvt_services.addresses()["postgres"]
TABLE = "dvt_bench_warm"
COLD, WARM = "local[*] (cold JVM)", "warm server (sc://)"

JOB = """
import sys
master, url, jar, out = sys.argv[1:5]
if master.startswith("sc://"):
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.remote(master).getOrCreate()
else:
    from dvt_connect import spark as spark_mod
    spark = spark_mod.get_session(spark_mod.session_spec(master=master, jars=[jar]))
(spark.read.format("jdbc").option("url", url).option("dbtable", "{table}")
    .option("user", "{user}").option("driver", "org.postgresql.Driver").load()
    .write.mode("overwrite").parquet(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from dvt_connect import connect_server

    PGA.client(f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} AS SELECT g AS id, "
               f"'row ' || g AS v FROM generate_series(1, {args.rows}) g", check=True)
    jar = str(sorted(Path("/usr/share/maven-repo/org/postgresql/postgresql").glob(
        "[0-9]*/postgresql-*.jar"))[-1])
    url = f"jdbc:postgresql://{PGA.host}:{PGA.port}/{PGA.database}"
    job = JOB.format(table=TABLE, user=PGA.user)
    times: dict[str, list[float]] = {COLD: [], WARM: []}
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, DVT_HOME=home, PGPASSWORD=PGA.password)
        os.environ["DVT_HOME"] = home
        started = time.perf_counter()
        state = connect_server.start([jar])
        server_start = time.perf_counter() - started
        try:
            for run in range(args.runs):
                for label, master in ((COLD, "local[*]"), (WARM, state.url)):
                    started = time.perf_counter()
                    subprocess.run([sys.executable, "-W", "ignore", "-c", job, master, url, jar,
                                    f"{home}/out-{run}-{len(label)}"], env=env, check=True,
                                   capture_output=True, text=True)
                    times[label].append(time.perf_counter() - started)
                    print(f"run {run + 1} {label}: {times[label][-1]:.1f} s", flush=True)
        finally:
            connect_server.stop()
            PGA.client(f"DROP TABLE IF EXISTS {TABLE}")
    cold, warm = statistics.median(times[COLD]), statistics.median(times[WARM])
    print(f"server start (once): {server_start:.1f} s")
    print(f"median per command: cold {cold:.1f} s, warm {warm:.1f} s, saved {cold - warm:.1f} s")
    if args.out:
        args.out.write_text(json.dumps({"rows": args.rows, "times": times,
                                        "server_start": server_start}, indent=2))


if __name__ == "__main__":
    main()
