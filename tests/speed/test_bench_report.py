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
    return {"seconds": seconds, "runs": [seconds], "peak_mib": 500}


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
