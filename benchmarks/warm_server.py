"""What the warm local server saves per command: a fresh `dvt transfer` of a small PostgreSQL
table to Parquet, on its own JVM (``local[*]``, the default) and through the Spark Connect server
`dvt server start` runs (``--master local-server``), one after the other, ``--runs`` times.

Each command is a new process, as a user's is; wall time from start to exit. Prints each time
and the medians; ``--out`` keeps them as JSON. ``--connector`` picks the read path (auto reads
this small table over JDBC; ``native`` goes Arrow end to end).
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import native  # noqa: E402

TABLE = "warm_orders"
COLD, WARM = "local[*] (own JVM)", "warm server (local-server)"


def dvt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "dvt_connect", *args], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"dvt {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[tuple[dict[str, Any], float]]:
    """`dvt server start` for ``env``'s DVT_HOME, yielding its state (``--json``) and the
    seconds the start took; on leaving, also on failure, `dvt server stop`, which must have
    stopped that PID. A server already running there is not ours: refused, left alone."""
    if json.loads(dvt(env, "server", "status", "--json").stdout)["running"]:
        raise SystemExit(f"a Spark Connect server already runs for DVT_HOME={env['DVT_HOME']}; "
                         "the bench times one it starts itself (stop that one first)")
    started = time.perf_counter()
    state = json.loads(dvt(env, "server", "start", "--json").stdout)
    seconds = time.perf_counter() - started
    try:
        yield state, seconds
    finally:
        stopped = json.loads(dvt(env, "server", "stop", "--json").stdout)
        if stopped.get("pid") != state["pid"]:
            print(f"warning: the server started as pid {state['pid']} was no longer running "
                  f"when the bench stopped it ({stopped})", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--connector", default="auto")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    pg = native._SERVERS["postgres"]
    pg.client(f"CREATE SCHEMA IF NOT EXISTS {native.SCHEMA}; "
              f"DROP TABLE IF EXISTS {native.SCHEMA}.{TABLE}; "
              f"CREATE TABLE {native.SCHEMA}.{TABLE} AS SELECT g::bigint AS id, 'row ' || g AS v, "
              f"(g / 100.0)::numeric(12,2) AS amount FROM generate_series(1, {args.rows}) g; "
              f"ALTER TABLE {native.SCHEMA}.{TABLE} ADD PRIMARY KEY (id); "
              f"ANALYZE {native.SCHEMA}.{TABLE}", check=True)
    times: dict[str, list[float]] = {COLD: [], WARM: []}
    with tempfile.TemporaryDirectory() as root:
        home = Path(root)
        native.write_profiles(home, home / "lake")
        env = dict(os.environ, DVT_HOME=str(home / "home"), DVT_PROFILES_DIR=str(home),
                   DVT_PROFILE="bench")
        dvt(env, "sync", "--repository", "file://" + native.DEBIAN_REPO)
        try:
            with running_server(env) as (state, server_start):
                for run in range(args.runs):
                    for label, master in ((COLD, "local[*]"), (WARM, "local-server")):
                        started = time.perf_counter()
                        dvt(env, "transfer", "--source", "pg", "--table",
                            f"{native.SCHEMA}.{TABLE}", "--target-table",
                            f"out_{run}_{len(label)}", "--master", master,
                            "--connector", args.connector)
                        times[label].append(time.perf_counter() - started)
                        print(f"run {run + 1} {label}: {times[label][-1]:.1f} s", flush=True)
        finally:
            pg.client(f"DROP TABLE IF EXISTS {native.SCHEMA}.{TABLE}")
    cold, warm = statistics.median(times[COLD]), statistics.median(times[WARM])
    print(f"server start (once, pid {state['pid']}): {server_start:.1f} s")
    print(f"median per command: cold {cold:.1f} s, warm {warm:.1f} s, saved {cold - warm:.1f} s")
    if args.out:
        args.out.write_text(json.dumps({"rows": args.rows, "connector": args.connector,
                                        "times": times, "server_start": server_start},
                                       indent=2))


if __name__ == "__main__":
    main()
