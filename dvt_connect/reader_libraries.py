"""Driver libraries the Python bulk paths read with, kept in the dvt cache (a database module
declares one as :class:`~dvt_connect.databases.spec.ReaderLibrary`; PostgreSQL's is ADBC
1.8.0's, the last optimised Linux build).

``dvt sync`` fetches each library the configuration's outputs declare: ``pip download`` of the
pinned wheel (so the user's index, proxy and certificates apply), refused unless its SHA-256 is
the pinned one, and the one library file taken out of it into
``<cache>/reader-libraries/<distribution>-<version>/``, renamed into place when whole. A read
loads it where it is present (:func:`present`); where it is not (no sync yet, another platform,
an executor of a cluster) the installed package reads, exactly, only slower.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dvt_connect.databases.spec import ReaderLibrary
from dvt_connect.errors import DvtError

# pip's whole download of a 2.8 MB wheel; an index that does not answer fails, it does not hang
FETCH_TIMEOUT_SECONDS = 300
OFF_SWITCH = "DVT_READER_LIBRARIES"


def folder(library: ReaderLibrary, cache: Path | None = None) -> Path:
    from dvt_connect.spark import cache_dir

    return (cache or cache_dir()) / "reader-libraries" / \
        f"{library.distribution}-{library.version}"


def path_of(library: ReaderLibrary, cache: Path | None = None) -> Path:
    return folder(library, cache) / Path(library.member).name


def enabled() -> bool:
    return os.environ.get(OFF_SWITCH, "1") != "0"


def fits_here(library: ReaderLibrary) -> bool:
    return sysconfig.get_platform() == library.platform


def present(library: ReaderLibrary | None, cache: Path | None = None) -> Path | None:
    """The library's file when it was fetched and this platform is the one it was built for
    (``DVT_READER_LIBRARIES=0``: never, the installed package reads)."""
    if library is None or not fits_here(library) or not enabled():
        return None
    path = path_of(library, cache)
    return path if path.is_file() else None


def in_task(path: str | None, platform: str | None) -> str | None:
    """The library a Spark task loads, given the driver's ``path`` to it and the ``platform`` it
    is built for: that file (the same machine, or a shared folder), else the copy sent with the
    job (``SparkFiles``, on a cluster); None (the installed package reads) on another platform
    or where neither is there."""
    if not path or sysconfig.get_platform() != platform:
        return None
    if os.path.isfile(path):
        return path
    try:
        from pyspark import SparkFiles

        sent = os.path.join(SparkFiles.getRootDirectory(), os.path.basename(path))
    except Exception:  # noqa: BLE001 - no SparkFiles here: the installed package reads
        return None
    return sent if os.path.isfile(sent) else None


def describe(library: ReaderLibrary) -> str:
    """Which library a native read's tasks load, and why (plans' notes, `dvt debug`)."""
    if present(library) is not None:
        return f"tasks read through {library.name}'s library from the dvt cache: {library.why}"
    if not fits_here(library):
        return (f"tasks read through the installed {library.distribution} ({library.name}'s "
                f"faster library is for {library.platform} only)")
    return (f"tasks read through the installed {library.distribution}; `dvt sync` fetches "
            f"{library.version}'s faster library ({library.why})")


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch` did for one library: ``state`` is ``present`` (already there),
    ``fetched`` or ``skipped`` (another platform); ``path`` the file where there is one."""

    library: ReaderLibrary
    state: str
    path: Path | None
    note: str = ""


def fetch(library: ReaderLibrary, cache: Path | None = None, *,
          pip_args: Sequence[str] = ()) -> Fetched:
    """Make the library present in the cache (see the module); ``pip_args`` go to ``pip
    download`` (an index or ``--find-links``). Raises :class:`DvtError` naming the wheel and what
    went wrong; nothing is left in the cache then."""
    if not fits_here(library):
        return Fetched(library, "skipped", None,
                       f"built for {library.platform}, this is {sysconfig.get_platform()}: "
                       "the installed package reads")
    target = path_of(library, cache)
    if target.is_file():
        return Fetched(library, "present", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        from dvt_connect.jars.download import sha256_of

        wheel = _download(library, Path(tmp), pip_args)
        digest = sha256_of(wheel)
        if digest != library.sha256:
            raise DvtError(
                f"{wheel.name} has SHA-256 {digest}, not the pinned {library.sha256}; "
                "it was not used.",
                hint=f"Check the package index pip uses for {library.distribution}.")
        partial = Path(tmp) / target.name
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(library.member) as src, \
                    open(partial, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        except KeyError:
            raise DvtError(f"{wheel.name} has no {library.member}.") from None
        partial.chmod(0o755)
        os.replace(partial, target)
    return Fetched(library, "fetched", target)


def _download(library: ReaderLibrary, into: Path, pip_args: Sequence[str]) -> Path:
    requirement = f"{library.distribution}=={library.version}"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", "--dest", str(into), *pip_args,
               requirement]
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=FETCH_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise DvtError(f"pip download {requirement} took more than "
                       f"{FETCH_TIMEOUT_SECONDS} s.") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines()
                 if line.strip()]
        last = next((line for line in reversed(lines) if line.startswith("ERROR")),
                    lines[-1] if lines else f"exit status {done.returncode}")
        raise DvtError(f"pip download {requirement} failed: {last}",
                       hint="pip needs to reach the package index (PIP_INDEX_URL, pip.conf).")
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise DvtError(f"pip download {requirement} left {len(wheels)} wheels, not one.")
    return wheels[0]


def fetch_all(libraries: Sequence[ReaderLibrary], *, offline: bool = False,
              dry_run: bool = False) -> tuple[list[Fetched], list[str]]:
    """:func:`fetch` each library once; returns what was done and, for each that could not be
    fetched, a warning (a read without it is exact, only slower)."""
    done: list[Fetched] = []
    warnings: list[str] = []
    for library in dict.fromkeys(libraries):
        have = present(library)
        if not fits_here(library):
            done.append(fetch(library))  # skipped, saying why
        elif have is not None:
            done.append(Fetched(library, "present", have))
        elif dry_run or offline:
            state = "would fetch" if dry_run else "not fetched (--offline)"
            done.append(Fetched(library, state, None))
        else:
            try:
                done.append(fetch(library))
            except DvtError as exc:
                warnings.append(f"{library.name} (reader library): {exc}")
    return done, warnings

