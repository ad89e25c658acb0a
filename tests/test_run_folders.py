"""Spark's run folders under DVT_HOME: named with their time and PID, locked while their
process lives, free once it is gone (however it died)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dvt_connect import run_folders


def test_a_run_folder_is_ours_locked_while_we_live_and_the_same_on_each_claim(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_HOME", str(tmp_path))
    folder = run_folders.claim()
    assert folder == run_folders.claim() and folder.parent == tmp_path / "tmp"
    created, pid = run_folders.parse(folder.name) or (0, 0)
    assert pid == os.getpid() and created > 0
    assert run_folders.owner_alive(folder) is True  # even to another look from this process
    run_folders._release(folder)
    assert not folder.exists()


def test_a_killed_process_leaves_a_folder_whose_lock_is_free(tmp_path: Path) -> None:
    code = ("from dvt_connect import run_folders; import sys, time; "
            "print(run_folders.claim(), flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], text=True, stdout=subprocess.PIPE,
                            env=dict(os.environ, DVT_HOME=str(tmp_path)))
    assert proc.stdout is not None
    folder = Path(proc.stdout.readline().strip())
    assert run_folders.owner_alive(folder) is True
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert folder.is_dir() and run_folders.owner_alive(folder) is False


def test_other_names_are_not_run_folders(tmp_path: Path) -> None:
    assert run_folders.parse("spark-1234") is None
    assert run_folders.parse("blockmgr-0f3e") is None
    assert run_folders.owner_alive(tmp_path) is None  # no lock file: cannot tell
