"""Finding 6 (part): `--json` prints a JSON error document on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvt_connect.cli.main import run
from faults.conftest import write_config


def test_json_failure_prints_one_error_document_on_stdout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(tmp_path, tmp_path / "lake")
    code = run(["transfer", "--profiles-dir", str(tmp_path), "--profile", "faults",
                "--source", "nope", "--table", "t", "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    document = json.loads(out)
    assert document["ok"] is False and document["exit_code"] == 2
    assert "unknown output `nope`" in document["error"]
    assert "unknown output `nope`" in err
