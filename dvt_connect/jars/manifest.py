"""The jars folder's manifest: which jar is which coordinate, and who needs it.

``manifest.json`` beside the jars: the Spark session builder reads it to set ``spark.jars``,
``dvt debug`` to say what is present or missing. Repository URLs in it never hold credentials.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ManifestEntry:
    coordinate: str
    file: str
    sha256: str
    repository: str
    needed_by: tuple[str, ...]
    size: int = 0
    mtime_ns: int = 0  # when the file was verified: unchanged since, its hash is still right


@dataclass
class Manifest:
    jars_dir: Path
    entries: list[ManifestEntry] = field(default_factory=list)
    # need key -> its top-level coordinates, as last synced (an empty list: nothing to fetch)
    needs: dict[str, list[str]] = field(default_factory=dict)
    spark: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, jars_dir: Path) -> Manifest:
        """The manifest in ``jars_dir``; empty when there is none (or it is unreadable)."""
        path = Path(jars_dir) / MANIFEST_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(Path(jars_dir))
        entries = []
        for raw in data.get("entries", []):
            try:
                entries.append(ManifestEntry(
                    coordinate=raw["coordinate"], file=raw["file"], sha256=raw["sha256"],
                    repository=raw.get("repository", ""),
                    needed_by=tuple(raw.get("needed_by", ())), size=int(raw.get("size", 0)),
                    mtime_ns=int(raw.get("mtime_ns", 0))))
            except (KeyError, TypeError, ValueError):
                continue
        needs = {str(k): [str(c) for c in v] for k, v in (data.get("needs") or {}).items()}
        return cls(Path(jars_dir), entries, needs, dict(data.get("spark") or {}))

    def save(self) -> Path:
        """Write atomically: a reader sees the old manifest or the new one, never half."""
        self.jars_dir.mkdir(parents=True, exist_ok=True)
        document: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "spark": self.spark,
            "needs": self.needs,
            "entries": [dict(asdict(e), needed_by=list(e.needed_by))
                        for e in sorted(self.entries, key=lambda e: e.coordinate)],
        }
        path = self.jars_dir / MANIFEST_FILE
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=self.jars_dir)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(document, f, indent=2)
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def path_of(self, entry: ManifestEntry) -> Path:
        return self.jars_dir / entry.file

    def by_coordinate(self) -> Mapping[str, ManifestEntry]:
        return {e.coordinate: e for e in self.entries}

    def jars_for(self, needs: Iterable[str]) -> list[Path]:
        """The files needed by any of the given keys that exist, in manifest order."""
        wanted = set(needs)
        return [self.path_of(e) for e in self.entries
                if wanted & set(e.needed_by) and self.path_of(e).is_file()]

    def all_jars(self) -> list[Path]:
        """Every synced jar that is present (what the warm local server starts with)."""
        return [self.path_of(e) for e in self.entries if self.path_of(e).is_file()]

    def missing_for(self, needs: Iterable[str]) -> list[str]:
        """Keys whose jars are not all here: never synced, or a file has gone."""
        missing = []
        for key in needs:
            entries = [e for e in self.entries if key in e.needed_by]
            recorded = key in self.needs
            if recorded and not self.needs[key]:
                continue  # nothing to fetch (a driver Spark ships)
            if not recorded and not entries and _needs_nothing(key):
                continue
            if not entries or any(not self.path_of(e).is_file() for e in entries):
                missing.append(key)
        return missing


def _needs_nothing(key: str) -> bool:
    """Adapters whose driver Spark ships (derby), and native paths written in Python
    (PostgreSQL, MySQL), need nothing even before a sync."""
    kind, _, name = key.partition(":")
    from dvt_connect.adapters import ADAPTERS

    if kind == "native":
        return any(f.native is not None and f.native.name == name and f.native.is_python
                   for f in ADAPTERS.values())
    if kind != "adapter":
        return False
    facts = ADAPTERS.get(name)
    return facts is not None and not facts.driver_packages
