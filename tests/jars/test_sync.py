"""`dvt sync` end to end against real HTTP servers on loopback."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from dvt_connect.cli.sync_view import show_sync
from dvt_connect.console import CaptureConsole
from dvt_connect.jars.manifest import Manifest
from dvt_connect.jars.repositories import Repositories, Repository, RetryPolicy
from dvt_connect.jars.sync import SyncOptions, SyncOutcome, sync

from .conftest import DEBIAN_REPO, FAST_RETRY, MavenServer
from .mavenrepo import EXPECTED, G, RepoWriter

pytestmark = pytest.mark.network

PG = "org.postgresql:postgresql:42.5.5"
MARIA = "org.mariadb.jdbc:mariadb-java-client:2.7.6"


def _profiles(folder: Path, outputs: dict[str, dict[str, Any]]) -> Path:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(yaml.safe_dump(
        {"test": {"target": next(iter(outputs)), "outputs": outputs}}))
    return folder


def _pg(*packages: str) -> dict[str, Any]:
    return {"type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test",
            "packages": list(packages)}


def _run(console: CaptureConsole, profiles: Path | None = None, **options: Any
         ) -> SyncOutcome:
    """`dvt sync` as the command runs it: the core's work, then the CLI's drawing of it."""
    outcome = sync(SyncOptions(profiles_dir=str(profiles) if profiles else None, **options),
                   console, policy=FAST_RETRY)
    show_sync(outcome, console, as_json=bool(options.get("as_json")))
    return outcome


def _jars(home: Path) -> list[str]:
    folder = home / "jars"
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".jar") if folder.is_dir() \
        else []


def _debian_profiles(tmp_path: Path) -> Path:
    return _profiles(tmp_path / "cfg", {
        "pg": _pg(PG),
        "maria": {"type": "mariadb", "host": "127.0.0.1", "user": "root", "packages": [MARIA]},
    })


def test_debian_drivers_are_synced_verified_and_recorded(
        dvt_env: Path, debian_server: MavenServer, console: CaptureConsole,
        tmp_path: Path) -> None:
    outcome = _run(console, _debian_profiles(tmp_path), mirror=debian_server.url)
    assert outcome.exit_code == 0, console.text
    assert _jars(dvt_env) == ["org.mariadb.jdbc_mariadb-java-client-2.7.6.jar",
                              "org.postgresql_postgresql-42.5.5.jar"]
    manifest = Manifest.load(dvt_env / "jars")
    (pg,) = manifest.jars_for(["output:pg"])
    real = (DEBIAN_REPO / "org/postgresql/postgresql/42.5.5/postgresql-42.5.5.jar").read_bytes()
    assert pg.read_bytes() == real
    entry = manifest.by_coordinate()[PG]
    assert entry.sha256 == hashlib.sha256(real).hexdigest()
    assert entry.repository == debian_server.url and entry.needed_by == ("output:pg",)
    assert manifest.missing_for(["output:pg", "output:maria", "adapter:derby"]) == []
    assert manifest.missing_for(["adapter:mysql"]) == ["adapter:mysql"]
    # Debian's repository publishes no checksums: a warning, not an error
    assert any("no published checksum" in w for w in console.warnings())
    assert "downloaded 2" in console.text


def test_second_sync_has_nothing_to_do_and_is_fast(
        dvt_env: Path, debian_server: MavenServer, tmp_path: Path) -> None:
    profiles = _debian_profiles(tmp_path)
    assert _run(CaptureConsole(), profiles, mirror=debian_server.url).exit_code == 0
    requests_before = len(debian_server.state.requests)
    console = CaptureConsole()
    started = time.monotonic()
    outcome = _run(console, profiles, mirror=debian_server.url)
    assert time.monotonic() - started < 1.0
    assert outcome.up_to_date and outcome.exit_code == 0
    assert "Nothing to do" in console.text
    assert len(debian_server.state.requests) == requests_before


def test_a_changed_jar_is_fetched_again(
        dvt_env: Path, debian_server: MavenServer, tmp_path: Path) -> None:
    profiles = _debian_profiles(tmp_path)
    _run(CaptureConsole(), profiles, mirror=debian_server.url)
    jar = dvt_env / "jars" / "org.postgresql_postgresql-42.5.5.jar"
    jar.write_bytes(b"corrupted")
    console = CaptureConsole()
    assert _run(console, profiles, mirror=debian_server.url).exit_code == 0
    assert jar.read_bytes()[:2] == b"PK"
    assert "downloaded 1" in console.text and "cached 1" in console.text


def test_strict_refuses_jars_without_checksums(
        dvt_env: Path, debian_server: MavenServer, console: CaptureConsole,
        tmp_path: Path) -> None:
    outcome = _run(console, _profiles(tmp_path / "cfg", {"pg": _pg(PG)}),
                   mirror=debian_server.url, strict=True)
    assert outcome.exit_code == 1
    assert any("has no published .sha1, .sha256 or .sha512" in e for e in outcome.errors)
    assert _jars(dvt_env) == []


def test_scenario_over_http_installs_exactly_the_resolved_set(
        dvt_env: Path, serve: Any, scenario_repo: Path, console: CaptureConsole,
        tmp_path: Path) -> None:
    server = serve(scenario_repo)
    profiles = _profiles(tmp_path / "cfg", {"app": {
        "type": "jdbc", "url": "jdbc:app://x", "driver": "App", "packages": [f"{G}:app:1.0"]}})
    outcome = _run(console, profiles, mirror=server.url)
    assert outcome.exit_code == 0, console.text
    expected = sorted(f"{G}_{c.split(':')[1]}-{c.split(':')[2]}.jar" for c in EXPECTED)
    assert _jars(dvt_env) == expected
    manifest = Manifest.load(dvt_env / "jars")
    assert {e.coordinate for e in manifest.entries} == set(EXPECTED)
    assert all(e.needed_by == ("output:app",) for e in manifest.entries)
    assert any("lib-b" in w and "nearer" in w for w in console.warnings())


def test_dry_run_prints_the_tree_and_writes_nothing(
        dvt_env: Path, serve: Any, scenario_repo: Path, console: CaptureConsole,
        tmp_path: Path) -> None:
    server = serve(scenario_repo)
    profiles = _profiles(tmp_path / "cfg", {"app": {
        "type": "jdbc", "url": "jdbc:app://x", "driver": "App", "packages": [f"{G}:app:1.0"]}})
    outcome = _run(console, profiles, mirror=server.url, dry_run=True)
    assert outcome.exit_code == 0
    assert f"{G}:app:1.0 (compile) - would download  [output:app]" in console.text
    assert f"    {G}:lib-b:1.0 (compile) - would download" in console.text
    assert "8 jar(s) would be downloaded" in console.text
    assert not (dvt_env / "jars").exists()
    assert server.requested(".jar") == 0


def test_checksum_mismatch_installs_nothing(
        dvt_env: Path, serve: Any, tmp_path: Path, console: CaptureConsole) -> None:
    repo = tmp_path / "repo"
    base = RepoWriter(repo).artifact(G, "corrupt", "1.0", checksums=("sha1", "sha256"))
    (base / "corrupt-1.0.jar.sha256").write_text("0" * 64)
    server = serve(repo)
    outcome = _run(console, _profiles(tmp_path / "cfg", {"pg": _pg(f"{G}:corrupt:1.0")}),
                   mirror=server.url)
    assert outcome.exit_code == 1
    (error,) = [e for e in outcome.errors if "corrupt" in e]
    assert f"`{G}:corrupt:1.0` from {server.url} does not match its published sha256" in error
    assert "was not installed" in error
    assert list((dvt_env / "jars").iterdir()) == [dvt_env / "jars" / "manifest.json"]
    assert Manifest.load(dvt_env / "jars").entries == []


def test_server_errors_are_retried(
        dvt_env: Path, serve: Any, tmp_path: Path, console: CaptureConsole) -> None:
    repo = tmp_path / "repo"
    RepoWriter(repo).artifact(G, "flaky", "1.0")
    server = serve(repo)
    jar = f"{G}/flaky/1.0/flaky-1.0.jar"
    server.state.faults[f"GET {jar}"] = ["503", "503", "ok"]
    server.state.faults[f"GET {G}/flaky/1.0/flaky-1.0.pom"] = ["429", "ok"]
    outcome = _run(console, _profiles(tmp_path / "cfg", {"pg": _pg(f"{G}:flaky:1.0")}),
                   mirror=server.url)
    assert outcome.exit_code == 0, console.text
    assert sum(1 for m, p in server.state.requests if m == "GET" and p == jar) == 3
    assert _jars(dvt_env) == [f"{G}_flaky-1.0.jar"]
    assert any("HTTP 503; retrying" in w for w in console.warnings())


def test_a_dropped_connection_leaves_nothing_partial(
        dvt_env: Path, serve: Any, tmp_path: Path, console: CaptureConsole) -> None:
    repo = tmp_path / "repo"
    RepoWriter(repo).artifact(G, "dropped", "1.0", jar=b"x" * 200_000)
    server = serve(repo)
    server.state.faults[f"GET {G}/dropped/1.0/dropped-1.0.jar"] = ["drop"]
    outcome = _run(console, _profiles(tmp_path / "cfg", {"pg": _pg(f"{G}:dropped:1.0")}),
                   mirror=server.url)
    assert outcome.exit_code == 1
    assert any("failed 3 times" in e and "nothing was installed" in e for e in outcome.errors)
    assert sorted(p.name for p in (dvt_env / "jars").iterdir()) == ["manifest.json"]


def test_missing_everywhere_lists_the_repositories_tried(
        dvt_env: Path, serve: Any, tmp_path: Path, console: CaptureConsole) -> None:
    server = serve(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    outcome = _run(console, _profiles(tmp_path / "cfg", {"pg": _pg(f"{G}:nowhere:9.9")}),
                   mirror=server.url)
    assert outcome.exit_code == 1
    (error,) = [e for e in outcome.errors if "nowhere" in e]
    assert f"`{G}:nowhere:9.9 (POM)` was not found in any repository" in error
    assert f"{server.url}: not found" in error and "empty-m2: not found" in error


def test_unreachable_repository_is_one_clear_error(
        dvt_env: Path, console: CaptureConsole, tmp_path: Path) -> None:
    outcome = _run(console, _profiles(tmp_path / "cfg", {"pg": _pg(PG)}),
                   mirror="http://127.0.0.1:9")
    assert outcome.exit_code == 1
    assert "repository http://127.0.0.1:9 is unreachable (connection refused)." in \
        outcome.errors
    assert "Traceback" not in console.text


def test_credentials_never_reach_output_or_manifest(
        dvt_env: Path, debian_server: MavenServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    debian_server.state.auth = ("deployer", "s3cret-Pa55")
    profiles = _profiles(tmp_path / "cfg", {"pg": _pg(PG)})
    host = debian_server.url.removeprefix("http://")

    denied = CaptureConsole()
    assert _run(denied, profiles, mirror=debian_server.url).exit_code == 1
    assert any("HTTP 401" in e and "DVT_MAVEN_USERNAME" in e for e in
               _run(denied, profiles, mirror=debian_server.url).errors)

    console = CaptureConsole()
    outcome = _run(console, profiles, mirror=f"http://deployer:s3cret-Pa55@{host}", as_json=True)
    assert outcome.exit_code == 0, console.text
    manifest_text = (dvt_env / "jars" / "manifest.json").read_text()
    assert "s3cret-Pa55" not in console.text + manifest_text
    assert Manifest.load(dvt_env / "jars").entries[0].repository == debian_server.url

    (dvt_env / "jars" / "manifest.json").unlink()
    monkeypatch.setenv("DVT_MAVEN_USERNAME", "deployer")
    monkeypatch.setenv("DVT_MAVEN_PASSWORD", "s3cret-Pa55")
    console = CaptureConsole()
    assert _run(console, profiles, mirror=debian_server.url).exit_code == 0, console.text
    assert "s3cret-Pa55" not in console.text


def test_prune_removes_jars_no_longer_needed(
        dvt_env: Path, debian_server: MavenServer, tmp_path: Path) -> None:
    _run(CaptureConsole(), _debian_profiles(tmp_path), mirror=debian_server.url)
    console = CaptureConsole()
    outcome = _run(console, _profiles(tmp_path / "cfg2", {"pg": _pg(PG)}),
                   mirror=debian_server.url, prune=True)
    assert outcome.exit_code == 0
    assert _jars(dvt_env) == ["org.postgresql_postgresql-42.5.5.jar"]
    assert f"Pruned 1 jar(s) no longer needed: {MARIA}" in console.text
    assert list(Manifest.load(dvt_env / "jars").needs) == ["output:pg"]


def test_offline_uses_the_local_repository_only(
        dvt_env: Path, scenario_repo: Path, tmp_path: Path, console: CaptureConsole,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_MAVEN_LOCAL_REPOSITORY", str(scenario_repo))
    profiles = _profiles(tmp_path / "cfg", {"pg": _pg(f"{G}:lib-b:1.0")})
    outcome = _run(console, profiles, offline=True, mirror="http://127.0.0.1:9")
    assert outcome.exit_code == 0, console.text
    assert _jars(dvt_env) == [f"{G}_lib-b-1.0.jar", f"{G}_lib-f-1.0.jar"]
    assert "no published checksum" not in console.text  # the local cache is trusted


def test_adapter_option_needs_no_configuration(
        dvt_env: Path, serve: Any, tmp_path: Path, console: CaptureConsole,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    server = serve(tmp_path)
    outcome = _run(console, None, adapters=("snowflake", "bigquery", "derby"), dry_run=True,
                   mirror=server.url)
    text = console.text
    assert "adapter:bigquery: Google's BigQuery JDBC driver (Simba) is not published" in text
    assert "the derby driver ships with Spark" in text
    assert "net.snowflake:snowflake-jdbc:3.20.0" in text
    assert outcome.exit_code == 1  # nothing is served here


@responses.activate
def test_timeouts_are_retried_then_reported() -> None:
    url = "https://repo.example.test/maven2"
    path = "g/a/1/a-1.pom"
    responses.add(responses.GET, f"{url}/{path}", body=requests.Timeout("read timed out"))
    responses.add(responses.GET, f"{url}/{path}", body=requests.Timeout("read timed out"))
    responses.add(responses.GET, f"{url}/{path}", body=b"<project/>")
    slept: list[float] = []
    repos = Repositories([Repository(url, "test", "http")],
                         policy=RetryPolicy(attempts=3, base_delay=1, max_delay=5),
                         sleep=slept.append)
    assert repos.read(path, repos.repos[0]) == b"<project/>"
    assert len(slept) == 2 and slept[0] < slept[1]

    responses.replace(responses.GET, f"{url}/{path}", body=requests.Timeout("read timed out"))
    with pytest.raises(Exception, match="timed out"):
        repos.read(path, repos.repos[0])
    assert repos.unreachable == {url: "timed out"}


@responses.activate
def test_retry_after_is_honoured() -> None:
    url = "https://repo.example.test/maven2"
    responses.add(responses.GET, f"{url}/x.pom", status=429, headers={"Retry-After": "7"})
    responses.add(responses.GET, f"{url}/x.pom", body=b"ok")
    slept: list[float] = []
    repos = Repositories([Repository(url, "test", "http")], sleep=slept.append)
    assert repos.read("x.pom", repos.repos[0]) == b"ok"
    assert slept == [7.0]


def test_cli_reports_no_release_without_traceback(
        dvt_env: Path, serve: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dvt_connect.cli.main import run

    monkeypatch.chdir(tmp_path)
    server = serve(tmp_path)
    code = run(["sync", "--dry-run", "--adapter", "snowflake", "--adapter", "bigquery",
                "--adapter", "redshift", "--mirror", server.url])
    out = capsys.readouterr()
    text = " ".join((out.out + out.err).split())
    assert code == 1
    assert "Traceback" not in text
    assert "native:snowflake" in text and "native:bigquery" in text and "native:redshift" in text


@pytest.mark.pypi
def test_a_postgres_output_s_reader_library_is_fetched_once_and_listed(
        dvt_env: Path, debian_server: MavenServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from dvt_connect.databases import database

    library = database("postgres").native.reader_library  # type: ignore[union-attr]
    assert library is not None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # not the machine's
    kept = (tmp_path / "cache" / "dvt-connect" / "reader-libraries"
            / "adbc-driver-postgresql-1.8.0" / "libadbc_driver_postgresql.so")
    profiles = _profiles(tmp_path / "cfg", {"pg": _pg(PG)})

    dry = CaptureConsole()
    assert _run(dry, profiles, mirror=debian_server.url, dry_run=True).exit_code == 0
    assert "Reader library adbc-driver-postgresql 1.8.0 would fetch" in dry.text
    assert not kept.exists()

    first = CaptureConsole()
    outcome = _run(first, profiles, mirror=debian_server.url)
    assert outcome.exit_code == 0, first.text
    assert f"Reader library adbc-driver-postgresql 1.8.0 fetched: {kept}" in first.text
    assert kept.read_bytes()[:4] == b"\x7fELF"

    second = CaptureConsole()
    _run(second, profiles, mirror=debian_server.url, as_json=True)
    listed = json.loads(second.text)["reader_libraries"]
    assert listed == [{"distribution": "adbc-driver-postgresql", "version": "1.8.0",
                       "state": "present", "path": str(kept), "note": ""}]


def test_offline_fetches_no_reader_library_and_says_so(
        dvt_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    profiles = _profiles(tmp_path / "cfg", {"pg": _pg(PG)})
    console = CaptureConsole()
    _run(console, profiles, repositories=(f"file://{DEBIAN_REPO}",), offline=True)
    assert "Reader library adbc-driver-postgresql 1.8.0 not fetched (--offline)" in console.text
    assert not (tmp_path / "cache" / "dvt-connect" / "reader-libraries").exists()
