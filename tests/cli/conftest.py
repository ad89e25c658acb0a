"""Run `dvt` in-process through its real entry point (the one error handler included)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.cli.main import run


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)


Dvt = Callable[..., Outcome]


@pytest.fixture
def dvt(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Dvt:
    """``dvt("debug", "--json")`` -> Outcome(code, out, err), run from an empty folder, with a
    wide terminal so table cells are not wrapped mid-word."""
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("COLUMNS", "400")

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return invoke
