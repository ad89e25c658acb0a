"""The ``files`` type: a lake path (local or on a bucket) in Parquet, CSV, JSON or ORC
(:mod:`dvt_connect.connectors.files`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dvt_connect.databases.connection import Connection
from dvt_connect.databases.spec import Database

FILE_FORMATS = ("parquet", "csv", "json", "orc")


@dataclass(frozen=True, repr=False)
class FilesConnection(Connection):
    """A files output: where the files are, in which format, through which bucket."""

    def location(self) -> str:
        return str(self.path)

    @property
    def bucket(self) -> str | None:
        """The bucket a relative path lives on (``bucket: lake_s3``)."""
        value = self.extra.get("bucket")
        return str(value) if value else None

    @property
    def options(self) -> Mapping[str, Any]:
        """Spark reader/writer options given under ``options:``."""
        return self.extra.get("options") or {}


FILES = Database(
    name="files",
    kind="files",
    required=("path",),
    aliases={"location": "path"},
    connection=FilesConnection,
    type_aliases=("file",),
)

DATABASES = (FILES,)
