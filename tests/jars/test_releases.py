"""Picking a native connector's release from the versions a repository publishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dvt_connect.adapters import ADAPTERS, NativeFacts
from dvt_connect.console import CaptureConsole
from dvt_connect.jars.releases import (
    MetadataReader,
    NoReleaseError,
    Release,
    builds,
    pick,
    release_for,
)
from dvt_connect.jars.spark_versions import SparkInstall
from dvt_connect.jars.sync import SyncOptions, sync

from .conftest import FAST_RETRY

SNOWFLAKE = ADAPTERS["snowflake"].native
BIGQUERY = ADAPTERS["bigquery"].native
REDSHIFT = ADAPTERS["redshift"].native


def _spark(minor: str, scala: str = "2.13") -> SparkInstall:
    return SparkInstall(f"{minor}.0", minor, scala, "3.4.1", Path("/nonexistent"))


def _native(native: NativeFacts | None) -> NativeFacts:
    assert native is not None and native.naming is not None
    return native


def _metadata(group: str, artifact: str, versions: list[str]) -> str:
    listed = "".join(f"<version>{v}</version>" for v in versions)
    return (f'<?xml version="1.0" encoding="UTF-8"?><metadata><groupId>{group}</groupId>'
            f"<artifactId>{artifact}</artifactId><versioning><latest>{versions[-1]}</latest>"
            f"<release>{versions[-1]}</release><versions>{listed}</versions></versioning>"
            "</metadata>")


def _write(root: Path, group: str, artifact: str, versions: list[str]) -> None:
    folder = root / group.replace(".", "/") / artifact
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "maven-metadata.xml").write_text(_metadata(group, artifact, versions))


def _reader(published: dict[str, list[str]]) -> MetadataReader:
    """Metadata answered from a dict (artifact -> versions), as repositories would."""

    def read(path: str) -> list[bytes] | None:
        group_path, artifact = path.rsplit("/", 2)[:2]
        if artifact not in published:
            return []
        return [_metadata(group_path.replace("/", "."), artifact,
                          published[artifact]).encode()]

    return MetadataReader(read)


def _pick(native: NativeFacts | None, spark: SparkInstall, published: dict[str, list[str]],
          strict: bool = False) -> Release:
    return release_for(_native(native), spark, _reader(published), strict=strict)


REDSHIFT_VERSIONS = ["6.6.1-spark_4.0", "6.7.0-spark_3.5", "6.7.0-spark_4.1",
                     "6.7.1-spark_4.0", "7.0.0-spark_4.1-rc1", "6.10.0-spark_4.1"]


def test_version_suffix_picks_the_newest_build_for_the_installed_minor() -> None:
    release = _pick(REDSHIFT, _spark("4.1"), {"spark-redshift_2.13": REDSHIFT_VERSIONS})
    # 6.10.0 beats 6.7.0 (Maven order, not text order); the release candidate is not a release
    assert str(release.coordinate) == \
        "io.github.spark-redshift-community:spark-redshift_2.13:6.10.0-spark_4.1"
    assert (release.built_for, release.source, release.warning) == ("4.1", "repository", None)
    release = _pick(REDSHIFT, _spark("4.0"), {"spark-redshift_2.13": REDSHIFT_VERSIONS})
    assert release.coordinate.version == "6.7.1-spark_4.0"


def test_newer_minor_falls_back_to_the_same_major_with_a_warning() -> None:
    release = _pick(REDSHIFT, _spark("4.3"), {"spark-redshift_2.13": REDSHIFT_VERSIONS})
    assert release.coordinate.version == "6.10.0-spark_4.1"
    assert release.built_for == "4.1"
    assert release.warning is not None
    assert "no release built for Spark 4.3" in release.warning
    assert "built for Spark 4.1" in release.warning


def test_strict_refuses_a_build_for_another_minor() -> None:
    with pytest.raises(NoReleaseError, match=r"--strict: .*redshift.*no release built for Spark "
                       r"4\.3; the nearest is .*6\.10\.0-spark_4\.1 \(built for Spark 4\.1\)"):
        _pick(REDSHIFT, _spark("4.3"), {"spark-redshift_2.13": REDSHIFT_VERSIONS}, strict=True)


def test_another_major_is_never_picked() -> None:
    with pytest.raises(NoReleaseError, match=r"fits Spark 5\.0 / Scala 2\.13\. Releases "
                       r"published: Spark 3\.5: 6\.7\.0-spark_3\.5; Spark 4\.0: "
                       r"6\.7\.1-spark_4\.0; Spark 4\.1: 6\.10\.0-spark_4\.1\."):
        _pick(REDSHIFT, _spark("5.0"), {"spark-redshift_2.13": REDSHIFT_VERSIONS})


def test_snowflake_plain_3x_versions_serve_spark_3_2_to_3_5() -> None:
    published = {"spark-snowflake_2.13": ["2.16.0-spark_3.4", "3.0.0", "3.1.7",
                                          "3.2.2-spark_4.0", "3.2.2-spark_4.1"]}
    assert _pick(SNOWFLAKE, _spark("3.5"), published).coordinate.version == "3.1.7"
    assert _pick(SNOWFLAKE, _spark("3.4"), published).coordinate.version == "3.1.7"
    assert _pick(SNOWFLAKE, _spark("4.1"), published).coordinate.version == "3.2.2-spark_4.1"
    older = _pick(SNOWFLAKE, _spark("3.1"), published)
    assert (older.coordinate.version, older.built_for) == ("3.1.7", "3.5")
    assert older.warning and "no release built for Spark 3.1" in older.warning


def test_bigquery_reads_the_spark_minor_from_the_artifact() -> None:
    published = {"spark-4.0-bigquery": ["0.43.0", "0.44.2"], "spark-4.1-bigquery": ["0.44.0"],
                 "spark-3.5-bigquery": ["0.45.0"]}
    release = _pick(BIGQUERY, _spark("4.1"), published)
    assert str(release.coordinate) == "com.google.cloud.spark:spark-4.1-bigquery:0.44.0"
    release = _pick(BIGQUERY, _spark("4.2"), published)
    assert str(release.coordinate) == "com.google.cloud.spark:spark-4.1-bigquery:0.44.0"
    assert release.warning and "Spark 4.2" in release.warning
    found = builds(_native(BIGQUERY).naming, _native(BIGQUERY), _spark("4.1"),  # type: ignore[arg-type]
                   lambda artifact: published.get(artifact))
    assert found is not None and ("4.0", "spark-4.0-bigquery", "0.44.2") in found
    assert all(minor.startswith("4.") for minor, _, _ in found)  # 3.5 is another major


def test_a_repository_without_the_connector_says_none_is_published() -> None:
    with pytest.raises(NoReleaseError, match=r"fits Spark 4\.3 / Scala 2\.13\. Releases "
                       r"published: none\."):
        _pick(REDSHIFT, _spark("4.3"), {})


def test_without_an_answering_repository_the_offline_facts_decide() -> None:
    reader = MetadataReader(lambda path: None)  # no repository answered
    release = release_for(_native(REDSHIFT), _spark("4.1"), reader)
    assert release.source == "facts"
    assert release.coordinate.version == _native(REDSHIFT).releases["4.1"]
    with pytest.raises(NoReleaseError, match=r"Releases known offline: .*Spark 4\.1"):
        release_for(_native(REDSHIFT), _spark("4.3"), reader)


def test_metadata_is_cached_and_read_offline(tmp_path: Path) -> None:
    calls: list[str] = []

    def read(path: str) -> list[bytes] | None:
        calls.append(path)
        return [_metadata("g", "a", ["1.0", "1.1"]).encode()]

    assert MetadataReader(read, tmp_path).versions("g", "a") == ["1.0", "1.1"]
    assert MetadataReader(read, tmp_path).versions("g", "a") == ["1.0", "1.1"]
    assert MetadataReader(lambda p: None, tmp_path, offline=True).versions("g", "a") == \
        ["1.0", "1.1"]
    assert calls == ["g/a/maven-metadata.xml"]


def test_snapshots_and_release_candidates_are_not_builds() -> None:
    native = _native(REDSHIFT)
    found = builds(native.naming, native, _spark("4.1"),  # type: ignore[arg-type]
                   lambda artifact: ["7.0.0-spark_4.1-SNAPSHOT", "7.0.0-spark_4.1-rc1",
                                     "7.0.0-spark_4.1"])
    assert found == [("4.1", "spark-redshift_2.13", "7.0.0-spark_4.1")]
    with pytest.raises(NoReleaseError):
        pick(native, _spark("4.1"), [])


@pytest.mark.network
def test_sync_reads_releases_from_the_repository_metadata(
        dvt_env: Path, serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a real HTTP repository: the dry run names the release the metadata offers for
    this Spark (not the offline list), and a second sync reads the metadata from the cache."""
    from dvt_connect.jars.spark_versions import installed_spark

    spark = installed_spark()
    root = tmp_path / "repo"
    suffix = f"-spark_{spark.spark_minor}"
    _write(root, "io.github.spark-redshift-community", f"spark-redshift_{spark.scala_binary}",
           ["1.0.0-spark_3.5", f"9.8.7{suffix}"])
    server = serve(root)
    monkeypatch.chdir(tmp_path)
    console = CaptureConsole()
    sync(SyncOptions(adapters=("redshift",), dry_run=True, mirror=server.url), console,
         policy=FAST_RETRY)
    text = console.text
    coordinate = (f"io.github.spark-redshift-community:spark-redshift_{spark.scala_binary}:"
                  f"9.8.7{suffix}")
    assert f"native:redshift: release {coordinate} (built for Spark {spark.spark_minor}), " \
           "from the repository" in text
    assert coordinate in text
    assert server.requested("spark-redshift_2.13/maven-metadata.xml") == 1
    sync(SyncOptions(adapters=("redshift",), dry_run=True, mirror=server.url), CaptureConsole(),
         policy=FAST_RETRY)
    assert server.requested("spark-redshift_2.13/maven-metadata.xml") == 1
