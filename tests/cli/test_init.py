"""`dvt init`: create profiles.yml and buckets.yml from the templates, never clobbering."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from dvt_connect.config import load_project
from dvt_connect.setup_files import template_text, templates_dir

from .conftest import Dvt


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_both_files_private_in_the_home(dvt: Dvt, _isolated_home: Path) -> None:
    result = dvt("init")
    assert result.code == 0, result.text
    for name in ("profiles.yml", "buckets.yml"):
        path = _isolated_home / name
        assert path.read_text() == template_text(name)
        assert _mode(path) == 0o600
        assert f"Created {path} (mode 600)." in result.out
    assert _mode(_isolated_home) == 0o700
    assert "dvt debug" in result.out


def test_private_whatever_the_umask(dvt: Dvt, _isolated_home: Path) -> None:
    old = os.umask(0)
    try:
        assert dvt("init").code == 0
    finally:
        os.umask(old)
    assert _mode(_isolated_home / "profiles.yml") == 0o600


def test_never_overwrites_without_force(dvt: Dvt, _isolated_home: Path) -> None:
    _isolated_home.mkdir()
    mine = _isolated_home / "profiles.yml"
    mine.write_text("my: own\n")
    result = dvt("init")
    assert result.code == 0
    assert mine.read_text() == "my: own\n"
    assert f"Left {mine} alone: it exists (use --force to replace it)." in result.out
    assert f"Created {_isolated_home / 'buckets.yml'}" in result.out
    again = dvt("init")
    assert again.out.count("Left ") == 2
    assert "Created" not in again.out


def test_force_keeps_a_backup_and_never_replaces_an_older_backup(
        dvt: Dvt, _isolated_home: Path) -> None:
    _isolated_home.mkdir()
    profiles = _isolated_home / "profiles.yml"
    profiles.write_text("first: version\n")
    result = dvt("init", "--force")
    assert result.code == 0, result.text
    backup = _isolated_home / "profiles.yml.bak"
    assert backup.read_text() == "first: version\n"
    assert _mode(backup) == 0o600
    assert profiles.read_text() == template_text("profiles.yml")
    assert f"the old file is saved as {backup}" in result.out

    profiles.write_text("second: version\n")
    dvt("init", "--force")
    assert backup.read_text() == "first: version\n"
    assert (_isolated_home / "profiles.yml.bak.1").read_text() == "second: version\n"

    dvt("init", "--force")  # identical to the template: nothing worth a backup
    assert not (_isolated_home / "profiles.yml.bak.2").exists()


def test_writes_where_profiles_would_be_read(dvt: Dvt, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert dvt("init", "--profiles-dir", str(tmp_path / "opt")).code == 0
    assert (tmp_path / "opt" / "buckets.yml").is_file()

    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path / "dbt"))
    assert dvt("init").code == 0
    assert (tmp_path / "dbt" / "profiles.yml").is_file()
    monkeypatch.delenv("DBT_PROFILES_DIR")

    # a dbt project folder with its own profiles.yml: buckets.yml goes beside it
    project = tmp_path / "project"
    project.mkdir()
    (project / "profiles.yml").write_text("p: {}\n")
    monkeypatch.chdir(project)
    result = dvt("init")
    assert (project / "buckets.yml").is_file()
    assert (project / "profiles.yml").read_text() == "p: {}\n"
    assert "current folder" not in result.err


def test_generated_files_load(dvt: Dvt, _isolated_home: Path) -> None:
    dvt("init")
    project = load_project()
    assert (project.profile_name, project.target_name) == ("default", "dev")
    connections = project.connections()
    assert connections["dev"].jdbc_url() == "jdbc:postgresql://localhost:5432/postgres"
    assert connections["lake"].path == f"{_isolated_home}/lake"
    assert project.buckets == {}
    assert project.warnings == []


def _uncomment(text: str, marker: str, prefix: str) -> str:
    """Uncomment every line after ``marker`` that starts with ``prefix`` + '#'."""
    head, tail = text.split(marker, 1)
    lines = [re.sub(rf"^{prefix}# ?", prefix, line) for line in tail.splitlines()]
    return head + "\n".join(lines) + "\n"


def test_every_profiles_example_is_valid(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    text = _uncomment(template_text("profiles.yml"), "More examples", "    ")
    for var in set(re.findall(r"env_var\('(DVT_ENV_SECRET_\w+)'\)", text)):
        monkeypatch.setenv(var, "example-secret")
    (tmp_path / "profiles.yml").write_text(text)
    project = load_project(tmp_path)
    connections = project.connections()
    assert set(connections) == {"dev", "lake", "mysql_db", "sqlserver_db", "oracle_db",
                                "snowflake_dw", "bigquery_dw", "redshift_dw", "local_sqlite",
                                "any_jdbc"}


def test_every_buckets_example_is_valid(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    text = _uncomment(template_text("buckets.yml"), "cloud environment", "")
    for var in re.findall(r"env_var\('(\w+)'\)", text):
        monkeypatch.setenv(var, "example-credential")
    (tmp_path / "buckets.yml").write_text(text)
    (tmp_path / "profiles.yml").write_text(template_text("profiles.yml"))
    buckets = load_project(tmp_path).buckets
    assert {name: b.type for name, b in buckets.items()} == {
        "s3_staging": "s3", "gcs_staging": "gcs", "azure_staging": "azure",
        "local_staging": "local"}


def test_templates_come_from_the_package_or_the_checkout() -> None:
    folder = templates_dir()
    assert {p.name for p in folder.iterdir()} >= {"profiles.yml", "buckets.yml"}


def test_a_file_in_the_way_is_a_config_error(dvt: Dvt, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = dvt("init", "--profiles-dir", str(blocker / "sub"))
    assert result.code == 2
    assert f"{blocker / 'sub'}: cannot create the folder" in result.err
    assert "Traceback" not in result.text

    folder = tmp_path / "cfg"
    (folder / "profiles.yml").mkdir(parents=True)
    result = dvt("init", "--profiles-dir", str(folder), "--force")
    assert result.code == 2
    assert "is a folder, not a file" in result.err
