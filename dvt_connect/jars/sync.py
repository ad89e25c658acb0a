"""`dvt sync`: work out what the configuration needs, resolve it, fetch it, report it.

The steps are separate so each can be tested alone: :mod:`.plan` turns configuration into
needs, :mod:`.resolver` turns needs into a plan (reading POMs only), :mod:`.download` executes
the plan. This module wires them together and reports to a console; it never prints.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvt_connect.console import Console
from dvt_connect.errors import DvtError
from dvt_connect.jars.coordinates import Coordinate
from dvt_connect.jars.download import ExecuteResult, execute, is_current
from dvt_connect.jars.manifest import Manifest
from dvt_connect.jars.plan import all_types, needs_for, needs_for_types
from dvt_connect.jars.pom import ModelBuilder
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
    plan: Plan | None = None
    result: ExecuteResult | None = None
    errors: list[str] = field(default_factory=list)
    up_to_date: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


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
                 load: Callable[..., Any] | None = None) -> tuple[list[Need], tuple[str, ...]]:
    """Needs from the options or the configuration, and the config's repositories. An output
    that cannot be read is a configuration error (exit 2), not a silently skipped need."""
    config_repos: tuple[str, ...] = ()
    if options.adapters or options.buckets or options.all:
        adapters, buckets = all_types() if options.all else ([], [])
        needs = needs_for_types([*adapters, *options.adapters], [*buckets, *options.buckets],
                                spark)
        with contextlib.suppress(DvtError):  # --adapter works without any configuration
            config_repos = _project(options, load).repositories
        return needs, config_repos
    project = _project(options, load)
    connections = project.connections().values()  # the first unreadable output raises
    return needs_for(connections, project.buckets, spark), project.repositories


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
    needs, config_repos = gather_needs(options, spark, load)
    outcome = SyncOutcome(needs)
    folder = options.jars_dir or jars_dir()
    if not options.as_json:
        console.info(f"Installed {spark.describe()}; jars folder {folder}")
    for need in needs:
        if need.note:
            console.info(f"{need.key}: {need.note}")
        if need.problem:
            outcome.errors.append(f"{need.key}: {need.problem}")
    if not needs:
        console.warn("nothing needs jars: no outputs or buckets in the configuration.")

    manifest = Manifest.load(folder)
    if not options.dry_run and not options.prune and up_to_date(manifest, needs, spark):
        outcome.up_to_date = True
        count = len({e.coordinate for n in needs for e in manifest.entries
                     if n.key in e.needed_by})
        _report_errors(console, outcome.errors)
        console.success(f"Nothing to do: the {count} jar(s) these needs take are present and "
                        f"verified ({time.monotonic() - started:.2f}s).")
        _json(console, options, outcome, manifest)
        return outcome

    repo_list = repositories(cli=options.repositories, config=config_repos,
                             mirror=options.mirror, offline=options.offline, env=env)
    repos = Repositories(repo_list, policy=policy, on_retry=console.warn)
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
        _report_plan(console, plan, manifest)
        _report_errors(console, outcome.errors)
        _json(console, options, outcome, manifest)
        return outcome

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
    _report_result(console, plan, result, time.monotonic() - started)
    _report_errors(console, outcome.errors)
    _json(console, options, outcome, Manifest.load(folder))
    return outcome


def _report_errors(console: Console, errors: list[str]) -> None:
    for message in dict.fromkeys(errors):
        console.error(message)


def _report_plan(console: Console, plan: Plan, manifest: Manifest) -> None:
    present = {c for c, e in manifest.by_coordinate().items() if is_current(manifest, e)}
    console.info(f"Resolved for {plan.spark.describe()}:")
    for depth, node in plan.tree():
        if node.shipped is not None:
            state = f"shipped by Spark ({node.shipped.version})"
        elif not node.is_jar:
            state = "pom only"
        elif str(node.coordinate) in present:
            state = "present"
        else:
            state = "would download"
        needed = f"  [{', '.join(node.needed_by)}]" if depth == 0 else ""
        console.info(f"{'  ' * depth}{node.coordinate} ({node.scope}) - {state}{needed}")
    top = [[n.key, ", ".join(str(c) for c in n.coordinates) or "-",
            "no release fits" if n.problem else "failed" if n.key in plan.failures
            else "ok" if n.coordinates else "nothing to fetch"]
           for n in plan.needs]
    console.table("Top-level coordinates", ["Need", "Coordinates", "State"], top)
    todo = [n for n in plan.jars if str(n.coordinate) not in present]
    console.info(f"Dry run: {len(plan.nodes)} artifact(s) resolved, {len(plan.shipped)} shipped "
                 f"by Spark, {len(todo)} jar(s) would be downloaded; nothing was written.")


def _report_result(console: Console, plan: Plan, result: ExecuteResult, seconds: float) -> None:
    rows = []
    for jar in sorted(result.jars, key=lambda j: j.coordinate):
        rows.append([jar.coordinate, ", ".join(jar.needed_by), jar.status,
                     _human(jar.size) if jar.size else "-"])
    for node in plan.shipped:
        rows.append([str(node.coordinate), ", ".join(node.needed_by),
                     f"shipped by Spark ({node.shipped.version})" if node.shipped else "", "-"])
    console.table("dvt sync", ["Artifact", "Needed by", "Status", "Size"], rows)
    downloaded = [j for j in result.jars if j.status == "downloaded"]
    cached = [j for j in result.jars if j.status == "cached"]
    console.info(
        f"Resolved {len(plan.nodes)}, downloaded {len(downloaded)} "
        f"({_human(sum(j.size for j in downloaded))}), cached {len(cached)} "
        f"({_human(sum(j.size for j in cached))}), shipped by Spark {len(plan.shipped)}, "
        f"failed {len(result.failed)} in {seconds:.1f}s.")
    if result.pruned:
        console.info(f"Pruned {len(result.pruned)} jar(s) no longer needed: "
                     f"{', '.join(result.pruned)}.")


def _json(console: Console, options: SyncOptions, outcome: SyncOutcome,
          manifest: Manifest) -> None:
    if not options.as_json:
        return
    plan = outcome.plan
    console.json({
        "up_to_date": outcome.up_to_date,
        "dry_run": options.dry_run,
        "needs": {n.key: {"coordinates": [str(c) for c in n.coordinates],
                          "problem": n.problem, "note": n.note} for n in outcome.needs},
        "resolved": [{"coordinate": str(n.coordinate), "scope": n.scope, "depth": n.depth,
                      "needed_by": n.needed_by,
                      "shipped_by_spark": n.shipped.version if n.shipped else None}
                     for n in (plan.nodes if plan else [])],
        "conflicts": [c.__dict__ for c in (plan.conflicts if plan else [])],
        "jars": [{"coordinate": j.coordinate, "file": j.file, "status": j.status,
                  "size": j.size, "repository": j.repository}
                 for j in (outcome.result.jars if outcome.result else [])],
        "manifest": str(manifest.jars_dir / "manifest.json"),
        "errors": list(dict.fromkeys(outcome.errors)),
    })


def describe_repository(repo: Repository) -> str:
    return f"{repo.url} ({repo.source})"
