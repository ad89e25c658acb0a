"""Where the warm local server's attach socket goes: beside server.json when the path fits a
socket address, else a hashed name in a folder only this user can enter; a shared folder is
refused, naming it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dvt_connect import connect_server
from dvt_connect.errors import DvtError


def test_a_short_home_keeps_the_socket_beside_server_json(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    monkeypatch.setenv("DVT_HOME", str(home))
    assert connect_server.attach_socket() == home / "server.sock"


def test_a_long_home_gets_a_hashed_socket_in_a_private_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    import shutil
    import tempfile

    short = Path(tempfile.mkdtemp(prefix="dvt-s", dir="/tmp"))  # pytest's own folder is long
    request.addfinalizer(lambda: shutil.rmtree(short, ignore_errors=True))
    monkeypatch.setenv("TMPDIR", str(short))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    first, second = (tmp_path / ("x" * 120) / "a", tmp_path / ("x" * 120) / "b")
    paths = []
    for home in (first, second, first):
        monkeypatch.setenv("DVT_HOME", str(home))
        paths.append(connect_server.attach_socket())
    assert paths[0] == paths[2] != paths[1]  # one per DVT_HOME, the same each time
    for path in paths:
        assert len(str(path).encode()) <= 100 and path.name.endswith(".sock")
        assert path.parent == short / f"dvt-{os.getuid()}"
    assert stat.S_IMODE(paths[0].parent.stat().st_mode) == 0o700
    # a folder others can enter is refused, naming it
    paths[0].parent.chmod(0o755)
    with pytest.raises(DvtError, match=f"dvt-{os.getuid()} is not this user's alone"):
        connect_server.attach_socket()
    # a temporary folder too long for a socket address too: one error saying what to do
    (tmp_path / ("y" * 60)).mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / ("y" * 60)))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(DvtError, match="fits in a Unix socket's address") as caught:
        connect_server.attach_socket()
    assert "TMPDIR" in (caught.value.hint or "")


def test_a_record_without_a_socket_is_a_server_reached_over_spark_connect(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an earlier version's record has no socket: `--master local-server` then uses Connect
    import json

    from dvt_connect import spark as spark_mod

    monkeypatch.setenv("DVT_HOME", str(tmp_path))
    record = {"pid": os.getpid(), "port": 1, "started": 0.0, "jars": [], "log": ""}
    (tmp_path / "server.json").write_text(json.dumps(record))
    monkeypatch.setattr(connect_server, "_is_server", lambda pid: pid == os.getpid())
    state = connect_server.read_state()
    assert state is not None and state.socket == ""
    assert spark_mod._server_socket() is None
    (tmp_path / "server.json").write_text(json.dumps(dict(record, socket="/x.sock")))
    assert spark_mod._server_socket() is not None


def test_the_server_keeps_the_job_groups_a_client_runs_and_ignores_other_lines() -> None:
    from dvt_connect.connect_server import _track_job_group, job_group_line

    running: set[str] = set()
    for line in (job_group_line("dvt-a", True), job_group_line("dvt-b", True),
                 job_group_line("dvt-a", False), b"not json\n", b'{"job_group": 1}\n',
                 b"[1, 2]\n", job_group_line("dvt-c", False)):
        _track_job_group(running, line)
    assert running == {"dvt-b"}  # what the server cancels should the client end now
