"""`LocalFS`, the files calls a Spark Connect client makes on a loopback server's disk: the same
answers Hadoop's FileSystem gives the files connector (exists, renames that refuse to replace,
lock files created once, data files without hidden names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvt_connect.connectors.filesystem import LocalFS
from dvt_connect.errors import TransferError


def test_the_swap_calls_on_local_disk(tmp_path: Path) -> None:
    fs = LocalFS()
    stage, dest = (tmp_path / ".t.stage").as_uri(), (tmp_path / "out" / "t").as_uri()
    fs.mkdirs(stage + "/k=1")
    (tmp_path / ".t.stage" / "k=1" / "part-0.parquet").write_bytes(b"1234")
    (tmp_path / ".t.stage" / "_SUCCESS").write_bytes(b"")
    (tmp_path / ".t.stage" / ".part-0.parquet.crc").write_bytes(b"x")
    assert fs.is_dir(stage) and not fs.exists(dest)
    assert fs.data_files(stage) == [("k=1/part-0.parquet", 4)]
    fs.mkdirs((tmp_path / "out").as_uri())
    fs.rename(stage, dest)
    assert fs.children(dest) == [".part-0.parquet.crc", "_SUCCESS", "k=1"]
    fs.mkdirs(stage)
    with pytest.raises(TransferError, match="could not rename .* it exists"):
        fs.rename(stage, dest)
    fs.delete(dest)
    assert not fs.exists(dest)


def test_a_lock_file_is_created_once(tmp_path: Path) -> None:
    fs = LocalFS()
    lock = (tmp_path / ".t.dvt-lock").as_uri()
    assert fs.create_new(lock, "pid 1")
    assert not fs.create_new(lock, "pid 2")
    assert (tmp_path / ".t.dvt-lock").read_text() == "pid 1"
    fs.delete(lock)
    assert not fs.exists(lock)
