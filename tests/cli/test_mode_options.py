"""`dvt transfer` mode options: a wrong combination is one error line and exit 2, before any
Spark session starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Dvt

PROFILES = """
default:
  target: lake
  outputs:
    src: {type: derby, path: /tmp/dvt-mode-options-db}
    lake: {type: files, path: /tmp/dvt-mode-options-lake}
"""


@pytest.mark.parametrize(("args", "message"), [
    (("--mode", "merge"), "--mode merge needs --primary-key"),
    (("--mode", "incremental"), "--mode incremental needs --update-key"),
    (("--mode", "append", "--primary-key", "id"), "--primary-key applies to --mode merge"),
    (("--mode", "incremental", "--update-key", "u", "--lookback", "2h"),
     "only a merge can take"),
    (("--mode", "merge", "--primary-key", "id,ID"), "lists each column once"),
])
def test_bad_mode_options_exit_2(dvt: Dvt, tmp_path: Path, args: tuple[str, ...],
                                 message: str) -> None:
    (tmp_path / "profiles.yml").write_text(PROFILES)
    result = dvt("transfer", "--profiles-dir", str(tmp_path), "--dry-run", "--source", "src",
                 "--table", "APP.T", *args)
    assert result.code == 2, result.text
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.err
    assert "Traceback" not in result.text
