"""The wheel carries every package and the templates (`templates/` at the top of the repo is
shipped as `dvt_connect/templates`): checked by building a wheel of a copy as pip does."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
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


def test_the_wheel_carries_the_templates_and_a_license_expression(tmp_path: Path) -> None:
    """Built as pip builds it: in an isolated environment with the `[build-system]` requirements
    fetched fresh, not with whatever setuptools the test's venv has."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("dvt_connect", "templates"):
        shutil.copytree(ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    out = tmp_path / "wheel"
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w",
                          str(out), str(source)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    warned = [line.strip() for line in (run.stdout + run.stderr).splitlines()
              if "BuildBackendWarning" in line or "deprecated" in line.lower()]
    assert not warned, warned
    (wheel,) = out.glob("dvt_connect-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in ("profiles.yml", "buckets.yml"):
            assert (archive.read(f"dvt_connect/templates/{name}").decode()
                    == (ROOT / "templates" / name).read_text())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        headers = archive.read(metadata).decode().split("\n\n", 1)[0].splitlines()
    assert "dvt_connect/log4j2.properties" in names
    assert "dvt_connect/cli/init.py" in names
    assert "License-Expression: Apache-2.0" in headers
    assert not [h for h in headers if h.startswith("License:")]
