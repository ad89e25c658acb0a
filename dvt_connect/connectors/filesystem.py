"""Files through Hadoop's FileSystem API, and the one staging area every connector cleans up with.

:class:`HadoopFS` is the handful of FileSystem calls the connectors need, for any scheme Spark can
reach (``file://``, ``s3a://``, ``gs://``, ``abfss://``). :class:`StagingArea` holds the folders one
connector staged files in and deletes them, on success and on failure: local folders with the
standard library (so a clean-up at interpreter exit works after the JVM has gone), others through
Hadoop. A problem deleting is warned and returned, never raised, so it cannot hide the transfer's
own outcome.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from dvt_connect import secrets
from dvt_connect.errors import DvtError, TransferError

if TYPE_CHECKING:
    from dvt_connect.console import Console


def hidden(name: str) -> bool:
    return name.startswith((".", "_"))


class HadoopFS:
    """The few Hadoop FileSystem calls we need, for any scheme Spark can reach."""

    def __init__(self, spark: Any, uri: str) -> None:
        self._jvm = spark._jvm
        self.conf = spark._jsc.hadoopConfiguration()
        self.fs = self.path(uri).getFileSystem(self.conf)

    def path(self, uri: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def exists(self, uri: str) -> bool:
        return bool(self.fs.exists(self.path(uri)))

    def is_dir(self, uri: str) -> bool:
        return bool(self.fs.getFileStatus(self.path(uri)).isDirectory())

    def mkdirs(self, uri: str) -> None:
        self.fs.mkdirs(self.path(uri))

    def rename(self, src: str, dst: str) -> None:
        if not self.fs.rename(self.path(src), self.path(dst)):
            raise TransferError(f"could not rename {src} to {dst}.")

    def delete(self, uri: str) -> None:
        self.fs.delete(self.path(uri), True)

    def create_new(self, uri: str, text: str) -> bool:
        """Create a file that must not exist yet (a lock file); False when it does. Hadoop's
        ``create(path, overwrite=False)`` refuses an existing file (atomically on HDFS; on local
        disks and object stores there is a short window between the check and the create)."""
        if self.fs.exists(self.path(uri)):
            return False
        try:
            stream = self.fs.create(self.path(uri), False)
        except Exception:  # noqa: BLE001 - created by another run between the two calls
            return False
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        return True

    def children(self, uri: str) -> list[str]:
        return sorted(str(s.getPath().getName()) for s in self.fs.listStatus(self.path(uri)))

    def data_files(self, uri: str) -> list[tuple[str, int]]:
        """(path relative to ``uri``, bytes) of every data file below it: names starting with
        ``.`` or ``_`` (checksums, ``_SUCCESS``, hidden folders) are not data."""
        root = self.fs.makeQualified(self.path(uri)).toString().rstrip("/")
        files = self.fs.listFiles(self.path(uri), True)
        found = []
        while files.hasNext():
            status = files.next()
            full = status.getPath().toString()
            relative = full[len(root):].lstrip("/") if full.startswith(root) else full
            if not any(hidden(part) for part in relative.split("/")):
                found.append((relative, int(status.getLen())))
        return found


def local_path(location: str | Path) -> Path | None:
    """The local folder a location names (a plain path or a ``file:`` URI), else None."""
    if isinstance(location, Path):
        return location
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if not parts.scheme:
        return Path(location)
    return None


class StagingArea:
    """The staging folders one connector created; :meth:`cleanup` deletes what is still held."""

    def __init__(self, spark: Any = None, console: Console | None = None) -> None:
        self.spark = spark
        self.console = console
        self._held: list[Any] = []   # str URIs or local Paths, as the connector named them

    def add(self, location: Any) -> Any:
        self._held.append(location)
        return location

    @property
    def paths(self) -> tuple[Any, ...]:
        return tuple(self._held)

    def __len__(self) -> int:
        return len(self._held)

    def remove(self, location: Any) -> str | None:
        """Delete one staging folder this area holds; returns the problem (already warned)."""
        if location not in self._held:
            raise DvtError(f"internal error: refusing to delete `{location}`, which this "
                           "connector did not create.")
        try:
            self._delete(location)
        except Exception as exc:  # any failure to delete is reported, never raised
            problem = secrets.redact(f"staging folder {location} could not be deleted: "
                                     + _first_line(exc))
            if self.console is not None:
                self.console.warn(problem)
            return problem
        self._held.remove(location)
        return None

    def cleanup(self) -> list[str]:
        """Delete every folder still held (after the action, success or failure); returns the
        problems, already warned."""
        return [p for p in (self.remove(loc) for loc in list(self._held)) if p]

    def _delete(self, location: Any) -> None:
        folder = local_path(location)
        if folder is not None:
            if folder.exists():
                shutil.rmtree(folder)
            return
        if self.spark is None:
            raise DvtError(f"no Spark session to delete {location} with")
        HadoopFS(self.spark, str(location)).delete(str(location))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
