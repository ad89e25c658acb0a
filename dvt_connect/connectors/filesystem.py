"""Files through Hadoop's FileSystem API, and the one staging area every connector cleans up with.

:class:`HadoopFS` is the handful of FileSystem calls the connectors need, for any scheme Spark can
reach (``file://``, ``s3a://``, ``gs://``, ``abfss://``); :class:`LocalFS` the same calls on local
disk for a Spark Connect session. :class:`StagingArea` holds the folders one
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
from dvt_connect.errors import DvtError, TransferError, UsageError

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

    def read_text(self, uri: str) -> str | None:
        """A small file's text (a lock file's); None when it is not there."""
        try:
            stream = self.fs.open(self.path(uri))
        except Exception:  # noqa: BLE001 - FileNotFoundException: gone meanwhile
            return None
        try:
            return str(self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
        finally:
            stream.close()

    def children(self, uri: str) -> list[str]:
        return sorted(str(s.getPath().getName()) for s in self.fs.listStatus(self.path(uri)))

    def data_files(self, uri: str) -> list[tuple[str, int]]:
        """(path relative to ``uri``, bytes) of every data file below it: names starting with
        ``.`` or ``_`` (checksums, ``_SUCCESS``, hidden folders) are not data."""
        root = self.fs.makeQualified(self.path(uri)).toString().rstrip("/")
        found = []
        for status in self._files(self.path(uri)):
            full = status.getPath().toString()
            relative = full[len(root):].lstrip("/") if full.startswith(root) else full
            if not any(hidden(part) for part in relative.split("/")):
                found.append((relative, int(status.getLen())))
        return found

    def _files(self, path: Any) -> Any:
        """The statuses of every file below ``path``. An object store lists them in one
        recursive listing; the local filesystem folder by folder, since its recursive listing
        asks every file's permissions by running ``ls -ld`` (a process per file)."""
        if str(self.fs.getScheme()) != "file":
            files = self.fs.listFiles(path, True)
            while files.hasNext():
                yield files.next()
            return
        for status in self.fs.listStatus(path):
            if status.isDirectory():
                yield from self._files(status.getPath())
            else:
                yield status


class LocalFS:
    """The same calls on this machine's disk through ``pyarrow.fs``, for a Spark Connect session
    (its client has no Hadoop): right only when the server's tasks write this machine's disk, a
    server on loopback (:func:`file_system` checks)."""

    def __init__(self) -> None:
        from pyarrow import fs

        self._fs = fs
        self.fs = fs.LocalFileSystem()

    @staticmethod
    def _p(uri: str) -> str:
        path = local_path(uri)
        assert path is not None, uri
        return str(path)

    def _info(self, uri: str) -> Any:
        return self.fs.get_file_info(self._p(uri))

    def exists(self, uri: str) -> bool:
        return bool(self._info(uri).type != self._fs.FileType.NotFound)

    def is_dir(self, uri: str) -> bool:
        return bool(self._info(uri).type == self._fs.FileType.Directory)

    def mkdirs(self, uri: str) -> None:
        self.fs.create_dir(self._p(uri), recursive=True)

    def rename(self, src: str, dst: str) -> None:
        if self.exists(dst):  # Hadoop's rename onto an existing path is no replace either
            raise TransferError(f"could not rename {src} to {dst}: it exists.")
        try:
            self.fs.move(self._p(src), self._p(dst))
        except OSError as exc:
            raise TransferError(f"could not rename {src} to {dst} ({exc}).") from None

    def delete(self, uri: str) -> None:
        if self.is_dir(uri):
            self.fs.delete_dir(self._p(uri))
        elif self.exists(uri):
            self.fs.delete_file(self._p(uri))

    def create_new(self, uri: str, text: str) -> bool:
        import os

        try:  # O_EXCL: atomic on a local disk
            fd = os.open(self._p(uri), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        return True

    def read_text(self, uri: str) -> str | None:
        try:
            with open(self._p(uri), encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def children(self, uri: str) -> list[str]:
        selector = self._fs.FileSelector(self._p(uri))
        return sorted(i.base_name for i in self.fs.get_file_info(selector))

    def data_files(self, uri: str) -> list[tuple[str, int]]:
        root = self._p(uri).rstrip("/")
        selector = self._fs.FileSelector(root, recursive=True)
        found = []
        for info in self.fs.get_file_info(selector):
            if info.type != self._fs.FileType.File:
                continue
            relative = info.path[len(root):].lstrip("/")
            if not any(hidden(part) for part in relative.split("/")):
                found.append((relative, int(info.size or 0)))
        return sorted(found)


def file_system(spark: Any, uri: str) -> HadoopFS | LocalFS:
    """The filesystem calls for ``uri``: Hadoop's in Spark's JVM; on Spark Connect, this machine's
    disk when the server's tasks write it, else one error saying why (before anything is
    written: :func:`connect_problem` is asked at planning)."""
    from dvt_connect.spark import is_connect

    if not is_connect(spark):
        return HadoopFS(spark, uri)
    problem = connect_problem(spark, uri)
    if problem is not None:
        raise UsageError(problem)
    return LocalFS()


def connect_problem(spark: Any, uri: str) -> str | None:
    """Why dvt cannot manage files at ``uri`` from a Spark Connect client (None: it can)."""
    from dvt_connect.spark import runs_here

    if local_path(uri) is None:
        return (f"{uri} is not on a local disk: dvt stages and swaps files through Hadoop's "
                "FileSystem in Spark's driver JVM, which a Spark Connect client does not have")
    if not runs_here(spark):
        return (f"{uri} is a local path, and the Spark Connect server's tasks do not run on "
                "this machine (only a server on loopback with a local master shares its disk)")
    return None


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
        file_system(self.spark, str(location)).delete(str(location))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
