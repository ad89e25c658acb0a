"""`dvt init`'s work: write ``profiles.yml`` and ``buckets.yml`` from the shipped templates.

Files are created private (mode 600: they hold or will hold credentials), never overwritten
without ``force``, and an overwritten file is first copied to a ``.bak`` beside it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from dvt_connect.errors import ConfigError, DvtError
from dvt_connect.paths import BUCKETS_FILE, PROFILES_FILE, ConfigPaths, find_config_dir

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

TEMPLATE_FILES = (PROFILES_FILE, BUCKETS_FILE)
FILE_MODE = 0o600


@dataclass(frozen=True)
class FileAction:
    """What happened to one config file."""

    path: Path
    action: str  # "created", "overwritten" or "kept"
    backup: Path | None = None

    @property
    def changed(self) -> bool:
        return self.action != "kept"

    def describe(self) -> str:
        if self.action == "created":
            return f"Created {self.path} (mode 600)."
        if self.action == "overwritten":
            saved = f"; the old file is saved as {self.backup}" if self.backup else ""
            return f"Overwrote {self.path} with the template{saved}."
        return f"Left {self.path} alone: it exists (use --force to replace it)."


@dataclass(frozen=True)
class InitResult:
    paths: ConfigPaths
    files: tuple[FileAction, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "directory": str(self.paths.directory),
            "chosen_by": self.paths.source,
            "files": [{"path": str(f.path), "action": f.action,
                       "backup": str(f.backup) if f.backup else None} for f in self.files],
        }


def templates_dir() -> Traversable:
    """The templates shipped in the wheel (``dvt_connect/templates``), or, in a source checkout
    or an editable install, the repository's top-level ``templates/``."""
    packaged = resources.files("dvt_connect") / "templates"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parent.parent / "templates"
    if source.is_dir():
        return source
    raise DvtError(
        "the profiles.yml and buckets.yml templates are not installed with dvt-connect.",
        hint="Reinstall it (`pip install --force-reinstall dvt-connect`).",
    )


def template_text(name: str) -> str:
    if name not in TEMPLATE_FILES:
        raise ValueError(f"no template named {name!r}")
    return (templates_dir() / name).read_text(encoding="utf-8")


def init_config(profiles_dir: str | Path | None = None, *, force: bool = False) -> InitResult:
    """Create the config files that are missing in the folder dbt's lookup picks (the folder
    that would be read afterwards); with ``force``, replace existing ones after a backup."""
    paths = find_config_dir(profiles_dir)
    directory = paths.directory
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder: {exc.strerror}.", path=directory) from None
    if not directory.is_dir():
        raise ConfigError("is not a folder.", path=directory)
    actions = tuple(
        _write(directory / name, template_text(name), force=force) for name in TEMPLATE_FILES
    )
    return InitResult(paths, actions)


def _write(path: Path, text: str, *, force: bool) -> FileAction:
    if path.is_dir():
        raise ConfigError("is a folder, not a file; move it away and retry.", path=path)
    exists = path.exists() or path.is_symlink()
    if exists and not force:
        return FileAction(path, "kept")
    backup = None
    if exists:
        try:
            current = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the file to back it up: {exc.strerror}.",
                              path=path) from None
        if current != text.encode("utf-8"):
            backup = _backup_path(path)
            _create_private(backup, current)
    _replace_private(path, text.encode("utf-8"))
    return FileAction(path, "overwritten" if exists else "created", backup)


def _backup_path(path: Path) -> Path:
    """``profiles.yml.bak``; if that exists, ``profiles.yml.bak.1``, ``.bak.2``: an earlier
    backup may be the user's real configuration, so it is never replaced."""
    candidate = path.with_name(path.name + ".bak")
    n = 0
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name}.bak.{n}")
    return candidate


def _create_private(path: Path, data: bytes) -> None:
    """Create a new file that only its owner can read, whatever the umask."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as exc:
        raise ConfigError(f"cannot create the file: {exc.strerror}.", path=path) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, FILE_MODE)


def _replace_private(path: Path, data: bytes) -> None:
    """Write beside, then rename over: the file is never half-written or briefly readable."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    _create_private(tmp, data)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the file: {exc.strerror}.", path=path) from None
