"""`make bench`: the speed bench (:mod:`speed`: every path against its baselines, each a fresh
process, at ``BENCH_SIZES`` rows, median of ``BENCH_REPEAT``; only the cases whose names contain
one of ``BENCH_CASES``, comma-separated, when it is set), then with ``--native`` the native paths'
in-session cases (:mod:`native`).

    BENCH_SIZES=1000000 BENCH_REPEAT=1 python benchmarks/run.py
    BENCH_SIZES=100000 BENCH_REPEAT=1 BENCH_CASES=warm,connectorx python benchmarks/run.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import native  # noqa: E402
import speed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES",
                                                          "1000000,5000000,20000000"))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 3)))
    parser.add_argument("--cases", default=os.environ.get("BENCH_CASES"),
                        help="comma-separated parts of case names to run (default: all); "
                             "e.g. warm,connectorx,spark defaults")
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    parser.add_argument("--native", action="store_true",
                        help="also run benchmarks/native.py's in-session cases (first size)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    try:
        cases = speed.select(args.cases)
    except ValueError as exc:
        parser.error(f"--cases/BENCH_CASES: {exc}")
    speed.run(sizes, args.repeat, Path(args.out), cases)
    if args.native:
        native.run(sizes[0], Path(args.out))


if __name__ == "__main__":
    main()
