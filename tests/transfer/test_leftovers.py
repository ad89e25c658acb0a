"""The leftovers of killed runs: names, ages and the folder scan (pure: no Spark, no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvt_connect.connectors.jdbc.ddl import side_token, token_time
from dvt_connect.transfer.leftovers import Scan, _folders, parse_age, side_created


def test_a_side_token_carries_its_creation_time() -> None:
    token = side_token(now=1_800_000_000)
    assert len(token) == 12 and token_time(token) == 1_800_000_000
    assert token_time("a67af3de") is None  # an older, random token


def test_our_names_are_recognised_and_others_are_not() -> None:
    stamped = f"orders__dvt_stage_{side_token(now=1000)}"
    assert side_created(stamped) == (True, 1000.0)
    assert side_created("orders__dvt_old_a67af3de") == (True, None)
    assert side_created("orders")[0] is False
    assert side_created("orders__dvt_stage_")[0] is False


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("12h", 43200),
                                               ("2d", 172800), ("0", 0), ("1.5h", 5400)])
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


def test_a_bad_age_is_refused() -> None:
    with pytest.raises(ValueError, match="`soon` is not an age"):
        parse_age("soon")


def test_the_folder_scan_finds_old_hidden_staging_folders_only(tmp_path: Path) -> None:
    from dvt_connect.config.profiles import parse_connection

    now = 2_000_000_000
    old = tmp_path / f".orders__dvt_stage_{side_token(now=now - 7200)}"
    young = tmp_path / f".orders__dvt_stage_{side_token(now=now - 60)}"
    nested = tmp_path / "raw" / f".events__dvt_old_{side_token(now=now - 7200)}"
    data = tmp_path / f"orders__dvt_stage_{side_token(now=now - 7200)}"  # not hidden: data
    for folder in (old, young, nested, data):
        folder.mkdir(parents=True)
    lake = parse_connection("lake", {"type": "files", "path": str(tmp_path)},
                            path=tmp_path / "profiles.yml", key="lake")
    scan = Scan(older_than=3600, now=now)
    found = {Path(item.name) for item in _folders(lake, scan)}
    assert found == {old, nested}
