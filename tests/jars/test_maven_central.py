"""`dvt sync` against Maven Central itself: releases, drivers, filesystems, and agreement with
`mvn dependency:tree` on real coordinates.

Downloads are cached between runs in the shared folder of the ``maven_cache`` fixture: the
first run on a machine fetches about 1 GB (the AWS SDK bundle hadoop-aws declares is 650 MB),
later runs verify the cached jars and fetch nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dvt_connect.adapters import ADAPTERS, FILESYSTEMS
from dvt_connect.console import CaptureConsole
from dvt_connect.databases.spec import NamingRule, NativeFacts
from dvt_connect.jars.coordinates import Coordinate
from dvt_connect.jars.download import is_current
from dvt_connect.jars.manifest import Manifest
from dvt_connect.jars.pom import ModelBuilder
from dvt_connect.jars.releases import NoReleaseError, release_for, repository_reader
from dvt_connect.jars.repositories import Repositories, repositories
from dvt_connect.jars.resolver import Need, Resolver
from dvt_connect.jars.spark_versions import Shipped, installed_spark, shipped_jars
from dvt_connect.jars.sync import PomSource, SyncOptions, sync
from dvt_connect.paths import dvt_home

from .maven_cli import maven_tree

pytestmark = pytest.mark.maven

NATIVES = [f.native for f in ADAPTERS.values()
           if f.native is not None and f.native.naming is not None]
# Apache Iceberg names its Spark runtime by Spark minor and Scala:
# iceberg-spark-runtime-<spark>_<scala> (https://iceberg.apache.org/releases/).
ICEBERG = NativeFacts(name="iceberg", spark_format="iceberg", group="org.apache.iceberg",
                      artifact="iceberg-spark-runtime-{spark}_{scala}", releases={},
                      bucket_types=(), naming=NamingRule(spark_in_artifact=True))


def _reader(home: Path):  # type: ignore[no-untyped-def]
    return repository_reader(Repositories(repositories()), home / "cache" / "maven")


@pytest.mark.usefixtures("central")
def test_releases_read_from_central_for_the_installed_spark() -> None:
    """What Central publishes for the installed Spark, by each vendor's naming rule. A connector
    with no build for this Spark major answers the one clear "no release" message."""
    spark = installed_spark()
    reader = _reader(dvt_home())
    for native in NATIVES:
        try:
            release = release_for(native, spark, reader)
        except NoReleaseError as exc:
            text = str(exc)
            assert f"fits Spark {spark.spark_minor} / Scala {spark.scala_binary}" in text
            assert "Releases published:" in text and "packages:" in text
            # nothing Central lists for this connector is built for this Spark major
            assert f"Spark {spark.spark_minor.split('.')[0]}." not in \
                text.split("Releases published:")[1].split(". Install")[0]
        else:
            assert release.source == "repository"
            assert release.built_for.split(".")[0] == spark.spark_minor.split(".")[0]
            assert (release.warning is None) == (release.built_for == spark.spark_minor)
    iceberg = release_for(ICEBERG, spark, reader)
    assert iceberg.source == "repository"
    assert iceberg.coordinate.artifact.startswith(f"iceberg-spark-runtime-"
                                                  f"{spark.spark_minor.split('.')[0]}.")
    assert iceberg.coordinate.artifact.endswith(f"_{spark.scala_binary}")


def test_sync_downloads_every_default_driver_and_filesystem(central: Path) -> None:
    """`dvt sync --all`: every adapter's default JDBC driver, the native connectors that have a
    release for this Spark, and the filesystem jars of every bucket type, downloaded from
    Central and verified; a second sync finds everything present."""
    console = CaptureConsole()
    started = time.monotonic()
    outcome = sync(SyncOptions(all=True, jars_dir=central), console)
    first = time.monotonic() - started
    native_keys = {f"native:{n.name}" for n in NATIVES}
    unexpected = [e for e in outcome.errors if e.split(":", 2)[0] + ":" + e.split(":", 2)[1]
                  not in native_keys]
    assert unexpected == [], console.text
    for error in outcome.errors:
        assert "no release of the" in error and "Releases published:" in error
    manifest = Manifest.load(central)
    for need in outcome.needs:
        if need.problem or not need.coordinates:
            continue
        assert manifest.needs.get(need.key) == [str(c) for c in need.coordinates], need.key
        entries = [e for e in manifest.entries if need.key in e.needed_by]
        assert entries and all(is_current(manifest, e) for e in entries), need.key
    keys = {n.key for n in outcome.needs if not n.problem}
    assert {f"bucket:{t}" for t, fs in FILESYSTEMS.items() if fs.packages} <= keys
    assert {f"adapter:{name}" for name, f in ADAPTERS.items() if f.driver_packages} <= keys
    spark = installed_spark()
    aws = manifest.by_coordinate().get(f"org.apache.hadoop:hadoop-aws:{spark.hadoop_version}")
    assert aws is not None
    assert any(e.coordinate.startswith("software.amazon.awssdk:bundle:")
               for e in manifest.entries), "hadoop-aws comes with the AWS SDK it declares"

    console = CaptureConsole()
    started = time.monotonic()
    again = sync(SyncOptions(all=True, jars_dir=central), console)
    assert again.up_to_date, console.text
    print(f"\nsync --all from Central: {first:.1f}s, again {time.monotonic() - started:.1f}s")


def _our_plan(coordinate: str, transitive: bool = True) -> tuple[dict[str, str], set[str]]:
    spark = installed_spark()
    repos = Repositories(repositories())
    source = PomSource(repos, dvt_home() / "cache" / "maven")
    shipped = Shipped(shipped_jars(spark, dvt_home() / "cache"))
    plan = Resolver(ModelBuilder(source), shipped, versions=source.versions).plan(
        spark, [Need("output:check", (Coordinate.parse(coordinate),), transitive=transitive)])
    assert not plan.failures, plan.failures
    every = {f"{n.coordinate.group}:{n.coordinate.artifact}:{n.coordinate.version}": n.scope
             for n in plan.nodes if n.is_jar}
    fetched = {f"{n.coordinate.group}:{n.coordinate.artifact}:{n.coordinate.version}"
               for n in plan.jars if n.shipped is None}
    return every, fetched


def _agreement_coordinates() -> list[str]:
    spark = installed_spark()
    found = [f"org.apache.hadoop:hadoop-aws:{spark.hadoop_version}",
             f"org.apache.hadoop:hadoop-azure:{spark.hadoop_version}",
             # the GCS connector's own graph (sync takes the shaded jar alone)
             FILESYSTEMS["gcs"].packages[0].rsplit(":", 1)[0],
             ADAPTERS["snowflake"].driver_packages[0],
             ADAPTERS["redshift"].driver_packages[0]]
    return found


@pytest.mark.parametrize("coordinate", _agreement_coordinates())
def test_resolved_set_agrees_with_maven_on_central(coordinate: str, central: Path,
                                                   maven_cache: Path, tmp_path: Path) -> None:
    """Our resolution of a real coordinate is what `mvn dependency:tree` resolves, and what we
    download is that set minus what Spark ships."""
    maven = maven_tree(coordinate, tmp_path / "project", maven_cache / "m2")
    ours, fetched = _our_plan(coordinate)
    assert ours == maven
    shipped = Shipped(shipped_jars(installed_spark(), dvt_home() / "cache"))
    assert fetched == {c for c in maven if shipped.get(*c.split(":")[:2]) is None}
    assert coordinate.split(":")[1] in {c.split(":")[1] for c in fetched}


@pytest.mark.usefixtures("central")
def test_native_connectors_with_a_release_agree_with_maven(maven_cache: Path,
                                                           tmp_path: Path) -> None:
    """Each native connector Central publishes for this Spark (with the extra packages it
    needs) resolves as Maven resolves it; those without one are covered by the release test."""
    spark = installed_spark()
    reader = _reader(dvt_home())
    checked = 0
    for native in NATIVES:
        try:
            release = release_for(native, spark, reader)
        except NoReleaseError:
            continue
        for coordinate in (str(release.coordinate), *native.extra_packages):
            maven = maven_tree(coordinate, tmp_path / native.name / coordinate.split(":")[1],
                               maven_cache / "m2")
            assert _our_plan(coordinate)[0] == maven
            checked += 1
    print(f"\nnative connectors compared with Maven: {checked}")
