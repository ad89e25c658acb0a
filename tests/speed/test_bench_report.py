"""The speed bench's own logic (benchmarks/speed.py): which cases BENCH_CASES selects, what
counts as a Spark Connect refusal, and the report when some cases did not run or were refused.
No Spark, no database: the bench's pure functions on figures made here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench_modules() -> ModuleType:
    """benchmarks/speed.py with its sibling modules. They import each other by bare names, and
    `native` and `speed` are also test packages here: the bench's are loaded by path under those
    names for the import only, then the test packages' entries are put back."""
    names = ("native", "warm_server", "speed")
    kept = {name: sys.modules.pop(name, None) for name in names}
    try:
        for name in names:
            spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return sys.modules["speed"]
    finally:
        for name, module in kept.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


speed: Any = _bench_modules()
native: Any = speed.native


def test_no_filter_selects_every_case_in_run_order() -> None:
    assert speed.select(None) == speed.CASES
    assert speed.select(" , ") == speed.CASES


def test_filters_are_substrings_any_case_in_run_order() -> None:
    chosen = speed.select("connectorx,WARM,spark defaults")
    assert chosen == ("pg->parquet spark defaults", "pg->parquet connectorx",
                      "pg->parquet dvt warm", "parquet->pg dvt warm",
                      "parquet->mariadb dvt warm", "pg->mariadb dvt warm", "pg->pg dvt warm",
                      "pg->parquet dvt warm session")


def test_a_filter_matching_nothing_names_it_and_the_cases() -> None:
    with pytest.raises(ValueError, match=r"no case matches 'nope'; the cases are: spark start"):
        speed.select("warm,nope")


def test_every_warm_case_has_a_cold_case_and_every_target_names_cases() -> None:
    for warm, cold in speed.COLD_OF.items():
        assert warm in speed.CASES and cold in speed.CASES
    for _, top, bottom, _, _ in speed.TARGETS:
        assert top in speed.CASES and bottom in speed.CASES


def failed(code: int, out: str) -> native.StepFailed:
    return native.StepFailed(["dvt", "transfer"], code, out, "")


def test_only_a_connect_refusal_counts_as_refused() -> None:
    message = ("output `lake` (files) cannot be used on Spark Connect: s3a://b/x is not on a "
               "local disk. Nothing was read or written.")
    refused = json.dumps({"ok": False, "error": message, "exit_code": 2})
    assert speed.connect_refusal(failed(2, "log line\n" + refused)) == message
    assert speed.connect_refusal(failed(1, refused)) is None  # a failure, not a refusal
    other = json.dumps({"ok": False, "error": "output `pg` is not in the profile",
                        "exit_code": 2})
    assert speed.connect_refusal(failed(2, other)) is None
    assert speed.connect_refusal(failed(2, "not json")) is None
    assert speed.connect_refusal(failed(2, "")) is None


def entry(seconds: float) -> dict[str, Any]:
    return {"seconds": seconds, "runs": [seconds], "peak_mib": 500, "pss_mib": 400}


def test_report_with_warm_cases_refusals_and_cases_not_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    by_size = {100_000: {
        "pg->parquet connectorx": entry(2.0),
        "pg->parquet dvt auto": entry(40.0),
        "pg->parquet dvt warm": entry(2.5),
        "parquet->pg dvt warm": {"refused": "output `lake` (files) cannot be used on Spark "
                                            "Connect: ..."},
        "pg->pg dvt warm": entry(5.0),
        speed.SESSION: entry(4.0),
    }}
    servers = {100_000: {"pid": 1, "start_seconds": 30.0, "warmup_seconds": 8.0,
                         "peak_mib": 900}}
    verdicts = speed.report(by_size, servers)
    out = capsys.readouterr().out
    targets = {v["target"]: v["ratios"][100_000] for v in verdicts["targets"]}
    assert targets == {
        "PG->Parquet dvt / ConnectorX (<= 3x)": {"ratio": 20.0, "pass": False},
        "PG->Parquet dvt warm server / ConnectorX (<= 1.5x)": {"ratio": 1.25, "pass": True},
        "PG->Parquet dvt in a session / ConnectorX (<= 1.5x)": {"ratio": 2.0, "pass": False},
    }
    assert f"({len(speed.TARGETS) - 3} target(s) not measured" in out
    assert "warm server at 0.1M: start 30.0 s and warm-up 8.0 s" in out
    saved = {row["case"]: row["ratios"] for row in verdicts["warm_vs_cold"]}
    assert saved["pg->parquet dvt warm"] == {100_000: {"ratio": 0.06, "saved_seconds": 37.5}}
    assert saved["parquet->pg dvt warm"] == {}
    assert saved["pg->pg dvt warm"] == {}  # its cold case did not run
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "refused" in lines["parquet->pg dvt warm"]
    assert "cold not run" in lines["pg->pg dvt warm / pg->pg dvt"]
    assert "refused" in lines["parquet->pg dvt warm / parquet->pg dvt"]


def test_memory_is_judged_on_pss_with_rss_beside_it_and_flat_from_5m(
        capsys: pytest.CaptureFixture[str]) -> None:
    def case(rss: int, pss: int | None) -> dict[str, Any]:
        return {"seconds": 1.0, "runs": [1.0], "peak_mib": rss, "pss_mib": pss}

    dvt, spark = speed.MEMORY_CASES
    by_size = {
        1_000_000: {dvt: case(678, 590), spark: case(677, 700)},  # RSS over, PSS under
        5_000_000: {dvt: case(683, 600), spark: case(737, 590)},  # PSS over
        20_000_000: {dvt: case(691, 690), spark: case(1258, 1200)},  # 15% more than at 5M
    }
    memory = speed.report(by_size)["memory"]
    out = capsys.readouterr().out
    assert {s: (v["measure"], v["pass"]) for s, v in memory["by_size"].items()} == {
        "1000000": ("PSS", True), "5000000": ("PSS", False), "20000000": ("PSS", True)}
    assert ("peak memory at 1M: PSS dvt 590 MiB, Spark JDBC 700 MiB; summed RSS dvt 678 MiB, "
            "Spark JDBC 677 MiB (ok on PSS)") in out
    assert memory["flat"] == {"from": 5_000_000, "to": 20_000_000, "growth": 1.15,
                              "pass": False}
    assert "dvt's peak from 5M to 20M rows: 600 -> 690 MiB (NO" in out

    # where PSS could not be read, RSS decides
    by_size[1_000_000][dvt]["pss_mib"] = None
    assert speed.report({1_000_000: by_size[1_000_000]})["memory"]["by_size"]["1000000"][
        "measure"] == "RSS"
    assert "(NO on RSS)" in capsys.readouterr().out


def test_tree_memory_counts_a_forked_childs_shared_pages_once_in_pss() -> None:
    # 120 MiB touched, then a fork: both processes map the same pages until one writes them
    script = ("import os, time; x = b'\\x01' * (120 << 20); pid = os.fork(); time.sleep(1.5); "
              "pid and os.waitpid(pid, 0)")
    _, memory, _ = native.run_measured([sys.executable, "-c", script], {})
    mib = 1 << 20
    assert memory.peak >= 230 * mib  # summed RSS: the 120 MiB in each process
    assert memory.peak_pss is not None and 110 * mib <= memory.peak_pss <= 180 * mib
