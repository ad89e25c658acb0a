"""`dvt sync`: work out what the configuration needs, resolve it, fetch it, report it.

The steps are separate so each can be tested alone: :mod:`.plan` turns configuration into
needs, :mod:`.resolver` turns needs into a plan (reading POMs only), :mod:`.download` executes
the plan. This module wires them together and returns a :class:`SyncOutcome`; along the way it
reports progress and warnings to a console (it never prints). The CLI draws the outcome
(:mod:`dvt_connect.cli.sync_view`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvt_connect.console import Console
from dvt_connect.databases import database
from dvt_connect.databases.spec import Database, ReaderLibrary
from dvt_connect.errors import DvtError
from dvt_connect.jars.coordinates import Coordinate
from dvt_connect.jars.download import ExecuteResult, execute, is_current
from dvt_connect.jars.manifest import Manifest
from dvt_connect.jars.plan import all_types, needs_for, needs_for_types, with_releases
from dvt_connect.jars.pom import ModelBuilder
from dvt_connect.jars.releases import release_for, repository_reader
from dvt_connect.jars.repositories import (
    ChecksumMismatchError,
    Repositories,
    Repository,
    RetryPolicy,
    repositories,
)
from dvt_connect.jars.resolver import Need, Plan, Resolver
from dvt_connect.jars.spark_versions import Shipped, SparkInstall, installed_spark, shipped_jars
from dvt_connect.paths import dvt_home, jars_dir
from dvt_connect.reader_libraries import Fetched, fetch_all


@dataclass
class SyncOptions:
    adapters: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    all: bool = False
    repositories: tuple[str, ...] = ()
    mirror: str | None = None
    offline: bool = False
    strict: bool = False
    dry_run: bool = False
    prune: bool = False
    jobs: int = 4
    profiles_dir: str | None = None
    profile: str | None = None
    target: str | None = None
    jars_dir: Path | None = None
    as_json: bool = False


@dataclass
class SyncOutcome:
    needs: list[Need]
    spark: SparkInstall
    folder: Path
    dry_run: bool = False
    plan: Plan | None = None
    result: ExecuteResult | None = None
    errors: list[str] = field(default_factory=list)
    up_to_date: bool = False
    seconds: float = 0.0
    manifest: Manifest | None = None  # as it stands when sync ends
    libraries: list[Fetched] = field(default_factory=list)  # reader libraries

    @property
    def jar_count(self) -> int:
        """Jars the needs take, by the manifest (what "nothing to do" counts)."""
        if self.manifest is None:
            return 0
        return len({e.coordinate for n in self.needs for e in self.manifest.entries
                    if n.key in e.needed_by})

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


class PomSource:
    """Reads POMs through the repositories, verified when a checksum is published, cached
    under ``$DVT_HOME/cache/maven`` so a later sync needs no network."""

    def __init__(self, repos: Repositories, cache_dir: Path | None) -> None:
        self.repos = repos
        self.cache_dir = cache_dir
        self.origin: dict[Coordinate, str] = {}

    def __call__(self, pom: Coordinate) -> bytes:
        cached = self.cache_dir / pom.path if self.cache_dir else None
        if cached is not None and cached.is_file():
            return cached.read_bytes()
        repo, data = self.repos.find(pom.path, f"{pom.group}:{pom.artifact}:{pom.version} (POM)")
        if not repo.is_local:
            published = self.repos.published_checksum(pom.path, repo)
            if published is not None:
                actual = hashlib.new(published[0], data).hexdigest()
                if actual != published[1]:
                    raise ChecksumMismatchError(str(pom), repo.url, published[0], published[1],
                                                actual)
        self.origin[pom.pom()] = repo.url
        if cached is not None and not repo.is_local and not pom.version.endswith("SNAPSHOT"):
            _write_atomic(cached, data)
        return data

    def versions(self, group: str, artifact: str) -> list[str]:
        """Published versions (for version ranges), from each repository's metadata."""
        found: list[str] = []
        path = f"{group.replace('.', '/')}/{artifact}/maven-metadata.xml"
        for repo in self.repos.repos:
            try:
                data = self.repos.read(path, repo)
            except Exception:  # noqa: BLE001 - a repository without metadata adds nothing
                continue
            if data:
                try:
                    root = ET.fromstring(data)
                except ET.ParseError:
                    continue
                found += [v.text.strip() for v in root.iter("version") if v.text]
        return found


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written is only slower


def gather_needs(options: SyncOptions, spark: SparkInstall,
                 load: Callable[..., Any] | None = None
                 ) -> tuple[list[Need], tuple[str, ...], list[ReaderLibrary]]:
    """Needs from the options or the configuration, the config's repositories, and the reader
    libraries of the databases in question. An output that cannot be read is a configuration
    error (exit 2), not a silently skipped need."""
    config_repos: tuple[str, ...] = ()
    if options.adapters or options.buckets or options.all:
        adapters, buckets = all_types() if options.all else ([], [])
        types = [*adapters, *options.adapters]
        needs = needs_for_types(types, [*buckets, *options.buckets], spark)
        with contextlib.suppress(DvtError):  # --adapter works without any configuration
            config_repos = _project(options, load).repositories
        return needs, config_repos, reader_libraries(database(t) for t in types)
    project = _project(options, load)
    connections = list(project.connections().values())  # the first unreadable output raises
    return (needs_for(connections, project.buckets, spark), project.repositories,
            reader_libraries(getattr(c, "facts", None) or database(c.type)
                             for c in connections))


def reader_libraries(databases: Iterable[Database]) -> list[ReaderLibrary]:
    """The reader libraries of ``databases`` whose Python bulk path is installed."""
    found: list[ReaderLibrary] = []
    for facts in databases:
        native = facts.native
        if native is None or native.reader_library is None:
            continue
        if all(importlib.util.find_spec(m) is not None for m in native.python_modules):
            found.append(native.reader_library)
    return list(dict.fromkeys(found))


def _project(options: SyncOptions, load: Callable[..., Any] | None) -> Any:
    if load is None:
        from dvt_connect.config import load_project

        load = load_project
    return load(profiles_dir=options.profiles_dir, profile=options.profile,
                target=options.target)


def up_to_date(manifest: Manifest, needs: Sequence[Need], spark: SparkInstall) -> bool:
    """Every need was synced with the same coordinates and its files are intact."""
    if manifest.spark.get("spark") != spark.spark_version:
        return False
    for need in needs:
        if need.problem:
            continue
        coordinates = [str(c) for c in need.coordinates]
        if manifest.needs.get(need.key) != coordinates:
            return False
        entries = [e for e in manifest.entries if need.key in e.needed_by]
        if coordinates and not entries:
            return False
        if not all(is_current(manifest, e) for e in entries):
            return False
    return True


def sync(options: SyncOptions, console: Console, *, load: Callable[..., Any] | None = None,
         policy: RetryPolicy | None = None, env: dict[str, str] | None = None) -> SyncOutcome:
    started = time.monotonic()
    spark = installed_spark()
    needs, config_repos, libraries = gather_needs(options, spark, load)
    repo_list = repositories(cli=options.repositories, config=config_repos,
                             mirror=options.mirror, offline=options.offline, env=env)
    repos = Repositories(repo_list, policy=policy, on_retry=console.warn)
    reader = repository_reader(repos, dvt_home() / "cache" / "maven", offline=options.offline)
    needs = with_releases(needs, spark, lambda native, spark_: release_for(
        native, spark_, reader, strict=options.strict))
    folder = options.jars_dir or jars_dir()
    outcome = SyncOutcome(needs, spark, folder, dry_run=options.dry_run)
    if not options.as_json:
        console.info(f"Installed {spark.describe()}; jars folder {folder}")
    for need in needs:
        if need.note:
            console.info(f"{need.key}: {need.note}")
        if need.warning:
            console.warn(f"{need.key}: {need.warning}")
        if need.problem:
            outcome.errors.append(f"{need.key}: {need.problem}")
    if not needs:
        console.warn("nothing needs jars: no outputs or buckets in the configuration.")

    outcome.libraries, warnings = fetch_all(libraries, offline=options.offline,
                                            dry_run=options.dry_run)
    for warning in warnings:
        console.warn(warning)

    manifest = Manifest.load(folder)
    if not options.dry_run and not options.prune and up_to_date(manifest, needs, spark):
        outcome.up_to_date = True
        return _done(outcome, manifest, started)

    source = PomSource(repos, dvt_home() / "cache" / "maven")
    shipped = Shipped(shipped_jars(spark, dvt_home() / "cache"))
    resolver = Resolver(ModelBuilder(source), shipped, versions=source.versions,
                        pom_origin=lambda c: source.origin.get(c.pom()))
    plan = resolver.plan(spark, needs)
    outcome.plan = plan
    for key, exc in plan.failures.items():
        outcome.errors.append(f"{key}: {exc}")
    for url, reason in repos.unreachable.items():
        outcome.errors.append(f"repository {url} is unreachable ({reason}).")
    for conflict in plan.conflicts:
        console.warn(conflict.describe())

    if options.dry_run:
        return _done(outcome, manifest, started)

    result = execute(
        plan, folder, repos, strict=options.strict, prune=options.prune, jobs=options.jobs,
        progress=lambda description, total: console.progress(description, total, unit="bytes"),
        warn=console.warn,
    )
    outcome.result = result
    for url, reason in repos.unreachable.items():
        message = f"repository {url} is unreachable ({reason})."
        if message not in outcome.errors:
            outcome.errors.append(message)
    for jar in result.failed:
        outcome.errors.append(str(jar.error))
    return _done(outcome, Manifest.load(folder), started)


def _done(outcome: SyncOutcome, manifest: Manifest, started: float) -> SyncOutcome:
    outcome.manifest = manifest
    outcome.seconds = time.monotonic() - started
    outcome.errors = list(dict.fromkeys(outcome.errors))
    return outcome


def describe_repository(repo: Repository) -> str:
    return f"{repo.url} ({repo.source})"
