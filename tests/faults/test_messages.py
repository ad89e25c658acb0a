"""Finding 6 (part): `--json` prints a JSON error document on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvt_connect.cli.main import run
from faults.conftest import Cli, write_config


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


@pytest.mark.faults
@pytest.mark.spark
def test_a_refused_connection_while_planning_fails_at_once_with_one_line(cli: Cli) -> None:
    done = cli.run("transfer", "--source", "refused", "--table", "t", "--target-table", "x")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no "retrying" warnings before it
    assert "127.0.0.1:9" in lines[0] and "refused" in lines[0].lower(), lines[0]
