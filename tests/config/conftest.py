"""Helpers for config tests: write profiles.yml / buckets.yml into a private temp folder."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

WriteConfig = Callable[..., Path]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir()
    return folder


@pytest.fixture
def write_config(config_dir: Path) -> WriteConfig:
    """``write_config(profiles=..., buckets=...)``: dedented YAML, mode 600; returns the folder."""

    def write(profiles: str | None = None, buckets: str | None = None,
              mode: int = 0o600) -> Path:
        for name, text in (("profiles.yml", profiles), ("buckets.yml", buckets)):
            if text is not None:
                path = config_dir / name
                path.write_text(textwrap.dedent(text), encoding="utf-8")
                path.chmod(mode)
        return config_dir

    return write


PG_PROFILE = """
    default:
      target: dev
      outputs:
        dev:
          type: postgres
          host: localhost
          user: alice
          password: pw-literal-123
          dbname: shop
          schema: public
"""
