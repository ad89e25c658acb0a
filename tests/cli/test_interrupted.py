"""What ends a run that a signal stopped: the signal, whatever error the stopped work raised."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from dvt_connect import interrupts
from dvt_connect.cli.main import run


def _failing_transfer(tmp_path: Path) -> list[str]:
    # no profiles.yml in DVT_HOME: a configuration error (exit 2) once the command runs
    return ["transfer", "--profiles-dir", str(tmp_path / "none"), "--source", "pg",
            "--table", "t", "--target-table", "t", "--json"]


def test_an_error_raised_while_a_signal_stops_the_run_is_reported_as_the_signal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(interrupts, "_received", [signal.SIGTERM])
    assert run(_failing_transfer(tmp_path)) == 143
    out, err = capsys.readouterr()
    assert err.strip() == "Terminated (SIGTERM)."
    assert json.loads(out) == {"ok": False, "error": "Terminated (SIGTERM).", "exit_code": 143}


def test_without_a_signal_the_error_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(interrupts, "_received", [])
    assert run(_failing_transfer(tmp_path)) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["exit_code"] == 2
    assert "Terminated" not in err
