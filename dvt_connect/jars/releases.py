"""Which release of a native connector fits the installed Spark, read from the repositories.

Each vendor says in a different place which Spark a build is for (:class:`NamingRule`):
spark-bigquery in the artifact (``spark-4.0-bigquery``), spark-redshift and spark-snowflake at
the end of the version (``6.7.0-spark_4.1``, ``3.2.2-spark_4.0``; spark-snowflake's plain
``3.0.x``/``3.1.x`` are one build for Spark 3.2-3.5). The versions come from each repository's
``maven-metadata.xml``; the newest release built for the installed Spark minor (and Scala) wins.
When none is, the newest built for another minor of the same major is picked with a warning
naming both versions, which ``--strict`` turns into a refusal. When no repository answers, the
hand-kept releases in :mod:`dvt_connect.adapters` are the offline fallback.

Picking is a pure function of the published versions (:func:`pick`); reading them is separate
(:class:`MetadataReader`), so both are tested alone.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dvt_connect.databases.spec import NamingRule, NativeFacts
from dvt_connect.errors import DvtError
from dvt_connect.jars.coordinates import Coordinate, MavenVersion
from dvt_connect.jars.repositories import Repositories
from dvt_connect.jars.spark_versions import SparkInstall

# Versions that are not releases: Maven's pre-release qualifiers and snapshots.
_PRE_RELEASE = re.compile(r"(?i)(snapshot|alpha|beta|preview|-rc|rc\d|\.rc|-m\d|-cr\d)")


@dataclass(frozen=True)
class Release:
    """The connector build picked for the installed Spark, and why."""

    native: str
    coordinate: Coordinate
    built_for: str  # the Spark minor the build is for ("4.1"); "" when the rule cannot say
    source: str  # "repository" (read from maven-metadata.xml) or "facts" (the offline list)
    warning: str | None = None

    def describe(self) -> str:
        built = f" (built for Spark {self.built_for})" if self.built_for else ""
        origin = "from the repository" if self.source == "repository" else "from the offline list"
        return f"{self.coordinate}{built}, {origin}"


class NoReleaseError(DvtError):
    """No release of a native connector is published for the installed Spark and Scala."""

    def __init__(self, native: NativeFacts, spark: SparkInstall, published: str,
                 *, where: str = "published", strict_refused: str | None = None) -> None:
        self.native = native
        self.spark = spark
        in_artifact = native.naming is not None and native.naming.spark_in_artifact
        artifact = native.artifact.format(
            scala=spark.scala_binary,
            spark=f"{spark.spark_minor.split('.')[0]}.x" if in_artifact else spark.spark_minor)
        if strict_refused:
            message = (f"--strict: the {native.name} Spark connector has no release built for "
                       f"Spark {spark.spark_minor}; the nearest is {strict_refused}.")
            hint = "Run without --strict to use it, or install the PySpark it is built for."
        else:
            message = (f"no release of the {native.name} Spark connector (`{native.group}:"
                       f"{artifact}`) fits Spark {spark.spark_minor} / Scala "
                       f"{spark.scala_binary}. Releases {where}: {published or 'none'}.")
            hint = ("Install a PySpark that one of them supports, or, to try another build at "
                    "your own risk, list its coordinates under `packages:` of the output."
                    + (f" See {native.docs}." if native.docs else ""))
        super().__init__(message, hint=hint)


def is_release(version: str) -> bool:
    return not _PRE_RELEASE.search(version)


def _minor_key(minor: str) -> tuple[int, ...]:
    return tuple(int(p) for p in minor.split(".") if p.isdigit())


def builds(rule: NamingRule, native: NativeFacts, spark: SparkInstall,
           published: Callable[[str], Sequence[str] | None]) -> list[tuple[str, str, str]] | None:
    """Every release build as (Spark minor, artifact, version), from ``published(artifact)``
    (the versions a repository lists, None when no repository has the artifact). None when no
    artifact of the connector was found at all."""
    found: list[tuple[str, str, str]] = []
    seen_any = False
    if rule.spark_in_artifact:
        major = spark.spark_minor.split(".")[0]
        for minor in rule.spark_minors(major, spark.spark_minor):
            artifact = native.artifact.format(scala=spark.scala_binary, spark=minor)
            versions = published(artifact)
            if versions is None:
                continue
            seen_any = True
            found += [(minor, artifact, v) for v in versions if is_release(v)]
        return found if seen_any else None
    artifact = native.artifact.format(scala=spark.scala_binary, spark=spark.spark_minor)
    versions = published(artifact)
    if versions is None:
        return None
    suffix = re.compile(rule.version_suffix) if rule.version_suffix else None
    for version in versions:
        if not is_release(version):
            continue
        match = suffix.search(version) if suffix else None
        if match:
            found.append((match.group(1), artifact, version))
            continue
        major = version.split(".")[0]
        for minor in rule.unsuffixed.get(major, ()):
            found.append((minor, artifact, version))
    return found


def pick(native: NativeFacts, spark: SparkInstall, found: Iterable[tuple[str, str, str]], *,
         strict: bool = False) -> Release:
    """The newest build for the installed Spark minor; else the newest for the nearest minor of
    the same major (newest minor first), with a warning; ``strict`` refuses that."""
    found = list(found)
    major = spark.spark_minor.split(".")[0]

    def newest(candidates: list[tuple[str, str, str]]) -> tuple[str, str, str]:
        return max(candidates, key=lambda b: MavenVersion(b[2]))

    exact = [b for b in found if b[0] == spark.spark_minor]
    published = "; ".join(
        f"Spark {minor}: {newest([b for b in found if b[0] == minor])[2]}"
        for minor in sorted({b[0] for b in found}, key=_minor_key))
    if exact:
        minor, artifact, version = newest(exact)
        return Release(native.name, Coordinate(native.group, artifact, version), minor,
                       "repository")
    same_major = [b for b in found if b[0].split(".")[0] == major]
    if not same_major:
        raise NoReleaseError(native, spark, published)
    best_minor = max({b[0] for b in same_major}, key=_minor_key)
    minor, artifact, version = newest([b for b in same_major if b[0] == best_minor])
    coordinate = Coordinate(native.group, artifact, version)
    if strict:
        raise NoReleaseError(native, spark, published,
                             strict_refused=f"{coordinate} (built for Spark {minor})")
    return Release(native.name, coordinate, minor, "repository", warning=(
        f"the {native.name} Spark connector has no release built for Spark "
        f"{spark.spark_minor}; using {coordinate}, built for Spark {minor}, on Spark "
        f"{spark.spark_version}. If it fails with NoSuchMethodError or "
        f"ClassNotFoundException, install PySpark {minor}."))


def from_facts(native: NativeFacts, spark: SparkInstall) -> Release:
    """The hand-kept release for this Spark minor and Scala: the offline fallback."""
    version = native.releases.get(spark.spark_minor)
    scalas = native.scala_binaries.get(spark.spark_minor)
    if version is None or (scalas is not None and spark.scala_binary not in scalas):
        published = "; ".join(
            f"Spark {minor}"
            + (f" (Scala {'/'.join(native.scala_binaries[minor])} only)"
               if minor in native.scala_binaries else "")
            + f": {v}" for minor, v in sorted(native.releases.items(),
                                              key=lambda kv: _minor_key(kv[0])))
        raise NoReleaseError(native, spark, published, where="known offline")
    artifact = native.artifact.format(scala=spark.scala_binary, spark=spark.spark_minor)
    return Release(native.name, Coordinate(native.group, artifact, version), spark.spark_minor,
                   "facts")


class MetadataReader:
    """Published versions of an artifact: the union over the repositories' maven-metadata.xml.

    Answers are kept for a day under ``cache_dir`` so a second sync (or an offline one) reads
    no network. ``read(path)`` returns the file's bytes from each repository that has it (an
    empty list: every repository answered that it has none), or None when none answered.
    """

    TTL_SECONDS = 24 * 3600

    def __init__(self, read: Callable[[str], list[bytes] | None], cache_dir: Path | None = None,
                 *, offline: bool = False) -> None:
        self._read = read
        self.cache_dir = cache_dir
        self.offline = offline
        self.reached = False  # at least one repository answered (with the file or a 404)

    def _cache_file(self, group: str, artifact: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / "metadata" / f"{group}_{artifact}.json"

    def versions(self, group: str, artifact: str) -> list[str] | None:
        cache = self._cache_file(group, artifact)
        if cache is not None and cache.is_file():
            try:
                data = json.loads(cache.read_text())
                if self.offline or time.time() - data["at"] < self.TTL_SECONDS:
                    self.reached = True
                    return data["versions"]
            except (OSError, ValueError, KeyError, TypeError):
                pass
        if self.offline:
            return None
        path = f"{group.replace('.', '/')}/{artifact}/maven-metadata.xml"
        bodies = self._read(path)
        if bodies is None:
            return None
        self.reached = True
        versions: list[str] | None = None
        for body in bodies:
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                continue
            versions = (versions or []) + [v.text.strip() for v in root.iter("version")
                                           if v.text and v.text.strip()]
        if versions is not None:
            versions = list(dict.fromkeys(versions))
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps({"at": time.time(), "versions": versions}))
            except OSError:
                pass
        return versions


def repository_reader(repos: Repositories, cache_dir: Path | None, *,
                      offline: bool = False) -> MetadataReader:
    """A :class:`MetadataReader` over the remote repositories of a sync (the local repository's
    metadata lists what happens to be cached there, not what is published)."""

    def read(path: str) -> list[bytes] | None:
        bodies: list[bytes] = []
        answered = False
        for repo in repos.repos:
            if repo.is_local or repo.url in repos.unreachable:
                continue
            try:
                data = repos.read(path, repo)
            except Exception:  # noqa: BLE001 - an unreachable repository is in repos.unreachable
                continue
            answered = True
            if data:
                bodies.append(data)
        return bodies if answered else None

    return MetadataReader(read, cache_dir, offline=offline)


def release_for(native: NativeFacts, spark: SparkInstall, reader: MetadataReader | None, *,
                strict: bool = False) -> Release:
    """The release for the installed Spark: from the repositories when one answers, else from
    the hand-kept facts."""
    if reader is not None and native.naming is not None:
        found = builds(native.naming, native, spark,
                       lambda artifact: reader.versions(native.group, artifact))
        if found is not None:
            return pick(native, spark, found, strict=strict)
        if reader.reached:  # the repositories answered: the connector is not published there
            return pick(native, spark, [], strict=strict)
    return from_facts(native, spark)
