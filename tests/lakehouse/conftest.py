"""moto's S3 server on loopback, one per session: the lakehouse tests' S3 runs and the
warehouse of the Nessie REST catalog (``lakehouse.nessie``) share it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from objectstore.conftest import S3Server, moto_server  # noqa: E402


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server
