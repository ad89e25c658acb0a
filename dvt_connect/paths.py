"""Where dvt-connect keeps its files, looked up as dbt does."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROFILES_FILE = "profiles.yml"
BUCKETS_FILE = "buckets.yml"


def dvt_home() -> Path:
    """``$DVT_HOME`` or ``~/.dvt``."""
    env = os.environ.get("DVT_HOME")
    return Path(env).expanduser() if env else Path.home() / ".dvt"


def jars_dir() -> Path:
    return dvt_home() / "jars"


@dataclass(frozen=True)
class ConfigPaths:
    """The folder the config files were found in, and why it was chosen."""

    directory: Path
    source: str

    @property
    def profiles(self) -> Path:
        return self.directory / PROFILES_FILE

    @property
    def buckets(self) -> Path:
        return self.directory / BUCKETS_FILE


def find_config_dir(profiles_dir: str | Path | None = None, cwd: Path | None = None) -> ConfigPaths:
    """``--profiles-dir``, then ``DVT_PROFILES_DIR``/``DBT_PROFILES_DIR``, then ``./profiles.yml``,
    then the home. ``buckets.yml`` always sits beside ``profiles.yml``."""
    if profiles_dir:
        return ConfigPaths(Path(profiles_dir).expanduser(), "--profiles-dir")
    for var in ("DVT_PROFILES_DIR", "DBT_PROFILES_DIR"):
        value = os.environ.get(var)
        if value:
            return ConfigPaths(Path(value).expanduser(), var)
    here = cwd or Path.cwd()
    if (here / PROFILES_FILE).is_file():
        return ConfigPaths(here, "current folder")
    return ConfigPaths(dvt_home(), "DVT_HOME" if os.environ.get("DVT_HOME") else "home")
