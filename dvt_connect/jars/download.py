"""Executing a plan: fetch the jars it lists into the jars folder, verified and atomically.

Each jar is found first (so a coordinate missing everywhere fails before any byte moves),
then downloaded in parallel into a temporary file beside its final place, checked against the
checksum its repository publishes, and only then renamed into place. Whatever fails, no partial
or corrupt jar is ever left under a jar's name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dvt_connect.errors import DvtError, ResolveError
from dvt_connect.jars.manifest import Manifest, ManifestEntry
from dvt_connect.jars.repositories import Repositories, Repository
from dvt_connect.jars.resolver import Node, Plan

PART_PREFIX = ".part-"


class MissingChecksumError(ResolveError):
    def __init__(self, coordinate: str, repository: str) -> None:
        super().__init__(
            f"`{coordinate}` from {repository} has no published .sha1, .sha256 or .sha512; "
            "with --strict it is not installed.",
            hint="Drop --strict to accept it with a warning.")


@dataclass
class JarResult:
    coordinate: str
    file: str
    status: str  # "downloaded", "cached", "failed"
    size: int = 0
    repository: str = ""
    needed_by: tuple[str, ...] = ()
    error: DvtError | None = None
    sha256: str = ""
    mtime_ns: int = 0


@dataclass
class ExecuteResult:
    jars: list[JarResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[JarResult]:
        return [j for j in self.jars if j.status == "failed"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def is_current(manifest: Manifest, entry: ManifestEntry | None) -> bool:
    """The entry's file is there with the hash recorded: size first, then the hash itself."""
    if entry is None:
        return False
    path = manifest.path_of(entry)
    try:
        stat = path.stat()
    except OSError:
        return False
    if stat.st_size != entry.size:
        return False
    if entry.mtime_ns and stat.st_mtime_ns == entry.mtime_ns:
        return True  # untouched since it was verified
    return sha256_of(path) == entry.sha256


def execute(
    plan: Plan,
    jars_dir: Path,
    repos: Repositories,
    *,
    strict: bool = False,
    prune: bool = False,
    jobs: int = 4,
    progress: Callable[[str, float | None], Any] | None = None,
    warn: Callable[[str], None] = lambda m: None,
) -> ExecuteResult:
    """Fetch what the plan lists and is not already here; update the manifest."""
    jars_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.load(jars_dir)
    existing = manifest.by_coordinate()
    result = ExecuteResult()
    todo: list[Node] = []
    for node in plan.jars:
        coordinate = str(node.coordinate)
        entry = existing.get(coordinate)
        if is_current(manifest, entry):
            assert entry is not None
            result.jars.append(JarResult(coordinate, entry.file, "cached", entry.size,
                                         entry.repository, tuple(node.needed_by),
                                         sha256=entry.sha256,
                                         mtime_ns=manifest.path_of(entry).stat().st_mtime_ns))
        else:
            todo.append(node)

    located: list[tuple[Node, Repository, int | None]] = []
    if todo:
        with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
            futures = [(node, pool.submit(repos.size, node.coordinate.path, node.coordinate,
                                          needed_by=node.needed_by,
                                          prefer=node.pom_repository)) for node in todo]
            for node, future in futures:
                try:
                    repo, size = future.result()
                except DvtError as exc:
                    result.jars.append(_failed(node, exc))
                    continue
                located.append((node, repo, size))

    if located:
        total = sum(s or 0 for _, _, s in located) or None
        context = progress(f"Downloading {len(located)} jar(s)", total) if progress else None
        bar = context.__enter__() if context is not None else None
        try:
            advance = bar.advance if bar is not None else (lambda n: None)
            with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
                futures2 = [(node, repo, pool.submit(_fetch_one, node, repo, jars_dir, repos,
                                                     strict, advance, result.warnings))
                            for node, repo, _ in located]
                for node, repo, fetch in futures2:
                    try:
                        result.jars.append(fetch.result())
                    except DvtError as exc:
                        result.jars.append(_failed(node, exc, repo.url))
        finally:
            if context is not None:
                context.__exit__(None, None, None)
    for message in result.warnings:
        warn(message)

    _update_manifest(manifest, plan, result, prune)
    return result


def _failed(node: Node, exc: DvtError, repository: str = "") -> JarResult:
    return JarResult(str(node.coordinate), node.coordinate.jar_name, "failed", 0, repository,
                     tuple(node.needed_by), exc)


def _fetch_one(node: Node, repo: Repository, jars_dir: Path, repos: Repositories, strict: bool,
               advance: Callable[[int], None], warnings: list[str]) -> JarResult:
    coordinate = str(node.coordinate)
    path = node.coordinate.path
    checksum = repos.published_checksum(path, repo)
    if checksum is None and repo.kind != "local":
        if strict:
            raise MissingChecksumError(coordinate, repo.url)
        warnings.append(f"`{coordinate}` from {repo.url} has no published checksum; "
                        "installed without verification.")
    target = jars_dir / node.coordinate.jar_name
    fd, tmp_name = tempfile.mkstemp(prefix=PART_PREFIX, suffix=".jar", dir=jars_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as out:
            fetched = repos.download(path, repo, out, coordinate, checksum=checksum,
                                     advance=advance)
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return JarResult(coordinate, target.name, "downloaded", fetched.size, repo.url,
                     tuple(node.needed_by), sha256=fetched.sha256,
                     mtime_ns=target.stat().st_mtime_ns)


def _update_manifest(manifest: Manifest, plan: Plan, result: ExecuteResult, prune: bool
                     ) -> None:
    planned_keys = {n.key for n in plan.needs}
    fresh = {j.coordinate: ManifestEntry(j.coordinate, j.file, j.sha256, j.repository,
                                         j.needed_by, j.size, j.mtime_ns)
             for j in result.jars if j.status in ("downloaded", "cached")}
    kept: list[ManifestEntry] = []
    for entry in manifest.entries:
        if entry.coordinate in fresh:
            continue
        if prune:
            if manifest.path_of(entry).is_file():
                manifest.path_of(entry).unlink()
            result.pruned.append(entry.coordinate)
            continue
        # needs resolved now no longer claim old entries; the entry stays until --prune
        kept.append(replace(entry, needed_by=tuple(k for k in entry.needed_by
                                                   if k not in planned_keys)))
    manifest.entries = kept + list(fresh.values())
    requirements = plan.requirements()
    failed_needs = {k for j in result.failed for k in j.needed_by}
    if prune:
        manifest.needs = {}
    for key in planned_keys:
        manifest.needs.pop(key, None)
    for key, coordinates in requirements.items():
        if key not in failed_needs:
            manifest.needs[key] = coordinates
    manifest.spark = {"spark": plan.spark.spark_version, "scala": plan.spark.scala_binary,
                      "hadoop": plan.spark.hadoop_version}
    if prune:
        for stray in manifest.jars_dir.glob(f"{PART_PREFIX}*"):
            stray.unlink(missing_ok=True)
    manifest.save()
