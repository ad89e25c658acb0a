"""moto's S3 server on loopback, shared with the object-store tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from objectstore.conftest import s3_server  # noqa: E402, F401  (the fixture)
