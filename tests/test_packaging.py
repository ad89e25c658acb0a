"""The wheel carries every package and the templates (`templates/` at the top of the repo is
shipped as `dvt_connect/templates`): checked by running setuptools' build_py on a copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_config() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_is_listed() -> None:
    listed = set(_setuptools_config()["packages"])
    on_disk = {
        ".".join(p.relative_to(ROOT).parts)
        for p in (ROOT / "dvt_connect").rglob("*")
        if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))
    } | {"dvt_connect"}
    missing = sorted(on_disk - listed)
    assert not missing, (
        f"add {missing} to [tool.setuptools] packages in pyproject.toml, or they are left "
        "out of the wheel")


def test_build_puts_templates_in_the_package(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("dvt_connect", "templates"):
        shutil.copytree(ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", source)
    out = tmp_path / "build"
    script = (
        "from setuptools.config.pyprojecttoml import apply_configuration\n"
        "from setuptools.dist import Distribution\n"
        "dist = Distribution(); dist.script_name = 'setup.py'\n"
        "apply_configuration(dist, 'pyproject.toml')\n"
        "cmd = dist.get_command_obj('build_py')\n"
        f"cmd.build_lib = {str(out)!r}\n"
        "cmd.ensure_finalized(); cmd.run()\n"
    )
    subprocess.run([sys.executable, "-W", "ignore", "-c", script], cwd=source, check=True,
                   capture_output=True)
    package = out / "dvt_connect"
    for name in ("profiles.yml", "buckets.yml"):
        assert (package / "templates" / name).read_text() == (ROOT / "templates" / name).read_text()
    assert (package / "log4j2.properties").is_file()
    assert (package / "cli" / "init.py").is_file()
