"""Resolution: coordinates, POM models, nearest wins, and agreement with Maven itself."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.adapters import ADAPTERS
from dvt_connect.jars.coordinates import Coordinate, CoordinateError, MavenVersion, in_range
from dvt_connect.jars.plan import NoReleaseError, native_coordinates, needs_for_types
from dvt_connect.jars.pom import ModelBuilder, PomError
from dvt_connect.jars.repositories import ArtifactNotFoundError
from dvt_connect.jars.resolver import Need, Resolver
from dvt_connect.jars.spark_versions import (
    Shipped,
    ShippedJar,
    SparkInstall,
    installed_spark,
    shipped_jars,
)

from .maven_cli import maven_tree
from .mavenrepo import EXPECTED, G, RepoWriter, dep


def _spark(minor: str = "4.0", scala: str = "2.13") -> SparkInstall:
    return SparkInstall(f"{minor}.1", minor, scala, "3.4.1", Path("/nonexistent"))


def _loader(root: Path) -> Callable[[Coordinate], bytes]:
    def load(pom: Coordinate) -> bytes:
        if not (root / pom.path).is_file():
            raise ArtifactNotFoundError(pom, [(root.as_uri(), "not found")])
        return (root / pom.path).read_bytes()

    return load


def _resolver(root: Path, shipped: list[ShippedJar] | None = None) -> Resolver:
    return Resolver(ModelBuilder(_loader(root)), Shipped(shipped or []))


def test_coordinates_parse_all_three_forms() -> None:
    assert str(Coordinate.parse("org.postgresql:postgresql:42.5.5")) == \
        "org.postgresql:postgresql:42.5.5"
    shaded = Coordinate.parse("com.google.cloud.bigdataoss:gcs-connector:3.1.7:shaded")
    assert shaded.path == ("com/google/cloud/bigdataoss/gcs-connector/3.1.7/"
                           "gcs-connector-3.1.7-shaded.jar")
    long = Coordinate.parse("g:a:pom::1.0")
    assert (long.extension, long.version) == ("pom", "1.0")
    with pytest.raises(CoordinateError, match="`postgres` in packages: is not a Maven"):
        Coordinate.parse("postgres", "packages:")


def test_maven_version_order_and_ranges() -> None:
    assert MavenVersion("1.0-rc1") < MavenVersion("1.0") < MavenVersion("1.0.1")
    assert MavenVersion("1.10") > MavenVersion("1.9")
    assert MavenVersion("2.0") == MavenVersion("2.0.0")
    assert in_range("1.5", "[1.0,2.0)") and not in_range("2.0", "[1.0,2.0)")
    assert in_range("3.0", "(,1.0],[1.2,)") and not in_range("1.1", "(,1.0],[1.2,)")


def test_scenario_resolves_exactly(scenario_repo: Path) -> None:
    plan = _resolver(scenario_repo).plan(
        installed_spark(), [Need("output:app", (Coordinate.parse(f"{G}:app:1.0"),))])
    assert {str(n.coordinate): n.scope for n in plan.nodes} == EXPECTED
    assert not plan.failures
    conflicts = {(c.artifact, c.chosen, c.omitted) for c in plan.conflicts}
    assert conflicts == {(f"{G}:lib-b", "1.0", "2.0"), (f"{G}:lib-e", "1.0", "2.0"),
                         (f"{G}:lib-f", "2.0", "1.0")}


def test_effective_model_interpolates_through_parents_and_imports_boms(
        scenario_repo: Path) -> None:
    model = ModelBuilder(_loader(scenario_repo)).model(
        Coordinate.parse(f"{G}:app:1.0"))
    versions = {d.artifact: (d.version, d.scope) for d in model.dependencies}
    assert versions["lib-a"] == ("1.0", "compile")  # ${project.version}
    assert versions["lib-c"] == ("2.0", "compile")  # from the BOM imported by the grandparent
    assert versions["lib-d"] == ("1.5", "runtime")  # managed with a parent's property
    assert versions["provided-p"][1] == "provided"


def test_missing_version_is_a_clear_error(tmp_path: Path) -> None:
    w = RepoWriter(tmp_path)
    w.artifact(G, "broken", "1.0", deps=dep(G, "nowhere"))
    with pytest.raises(PomError, match=r"POM of `dvttest:broken:pom::1.0`: dependency "
                       r"`dvttest:nowhere` has no version"):
        _resolver(tmp_path).collect([(Coordinate.parse(f"{G}:broken:1.0"), "x", True)])


def test_one_failing_need_does_not_stop_the_others(scenario_repo: Path) -> None:
    plan = _resolver(scenario_repo).plan(installed_spark(), [
        Need("output:bad", (Coordinate.parse(f"{G}:absent:1.0"),)),
        Need("output:app", (Coordinate.parse(f"{G}:lib-f:1.0"),)),
    ])
    assert list(plan.failures) == ["output:bad"]
    assert [str(n.coordinate) for n in plan.nodes] == [f"{G}:lib-f:1.0"]


def test_needed_by_follows_each_need(scenario_repo: Path) -> None:
    plan = _resolver(scenario_repo).plan(installed_spark(), [
        Need("adapter:a", (Coordinate.parse(f"{G}:lib-a:1.0"),)),
        Need("bucket:s3", (Coordinate.parse(f"{G}:lib-b:1.0"),)),
    ])
    by = {str(n.coordinate): n.needed_by for n in plan.nodes}
    assert by[f"{G}:lib-b:1.0"] == ["adapter:a", "bucket:s3"]
    assert by[f"{G}:excluded-x:1.0"] == ["adapter:a"]


def test_spark_shipped_artifacts_are_not_downloaded_and_conflicts_are_reported(
        tmp_path: Path) -> None:
    # spark-snowflake #670: the connector wants Parquet 1.15 where Spark ships another one
    w = RepoWriter(tmp_path)
    w.artifact("org.apache.parquet", "parquet-column", "1.15.2")
    w.artifact(G, "connector", "1.0", deps=dep("org.apache.parquet", "parquet-column", "1.15.2"))
    shipped = [ShippedJar("org.apache.parquet", "parquet-column", "1.17.0",
                          "parquet-column-1.17.0.jar")]
    plan = _resolver(tmp_path, shipped).plan(
        installed_spark(), [Need("native:x", (Coordinate.parse(f"{G}:connector:1.0"),))])
    assert [str(n.coordinate) for n in plan.jars] == [f"{G}:connector:1.0"]
    (conflict,) = [c for c in plan.conflicts if c.kind == "spark"]
    assert "Spark ships 1.17.0" in conflict.describe()
    assert "1.15.2" in conflict.describe()


def test_installed_spark_is_read_from_pyspark() -> None:
    spark = installed_spark()
    assert spark.spark_version.startswith(spark.spark_minor)
    assert spark.scala_binary in ("2.12", "2.13")
    assert re.match(r"^3\.\d+\.\d+", spark.hadoop_version)
    jars = {(j.group, j.artifact) for j in shipped_jars(spark)}
    assert ("org.apache.parquet", "parquet-column") in jars


def test_native_connector_matches_spark_and_scala() -> None:
    snowflake = ADAPTERS["snowflake"].native
    bigquery = ADAPTERS["bigquery"].native
    redshift = ADAPTERS["redshift"].native
    assert snowflake and bigquery and redshift
    assert str(native_coordinates(snowflake, _spark("4.0"))[0]) == \
        "net.snowflake:spark-snowflake_2.13:3.2.2-spark_4.0"
    assert str(native_coordinates(bigquery, _spark("4.1"))[0]) == \
        "com.google.cloud.spark:spark-4.1-bigquery:0.44.2"
    assert str(native_coordinates(redshift, _spark("3.5", "2.12"))[0]) == \
        "io.github.spark-redshift-community:spark-redshift_2.12:6.7.0-spark_3.5"


def test_no_release_fits_names_the_versions() -> None:
    redshift = ADAPTERS["redshift"].native
    assert redshift
    with pytest.raises(NoReleaseError, match=r"fits Spark 3\.5 / Scala 2\.13.*Spark 3\.5 "
                       r"\(Scala 2\.12 only\): 6\.7\.0-spark_3\.5"):
        native_coordinates(redshift, _spark("3.5", "2.13"))
    needs = {n.key: n for n in needs_for_types(["snowflake"], [], _spark("9.9"))}
    assert needs["adapter:snowflake"].coordinates
    assert "fits Spark 9.9 / Scala 2.13" in (needs["native:snowflake"].problem or "")


def test_bucket_needs_use_the_installed_hadoop_version() -> None:
    needs = {n.key: n for n in needs_for_types([], ["s3", "gcs", "azure"], _spark())}
    assert [str(c) for c in needs["bucket:s3"].coordinates] == \
        ["org.apache.hadoop:hadoop-aws:3.4.1"]
    assert [str(c) for c in needs["bucket:azure"].coordinates] == \
        ["org.apache.hadoop:hadoop-azure:3.4.1"]
    assert needs["bucket:gcs"].coordinates[0].classifier == "shaded"
    assert needs["bucket:gcs"].transitive is False


@pytest.mark.maven
@pytest.mark.network
def test_resolution_agrees_with_maven(scenario_repo: Path, tmp_path: Path, serve: Any,
                                      maven_cache: Path) -> None:
    """Maven 3 itself resolves the scenario, served over HTTP, to the same set and scopes."""
    local = maven_cache / "m2"
    shutil.rmtree(local / G, ignore_errors=True)  # the scenario is regenerated per run
    server = serve(scenario_repo)
    maven = maven_tree(f"{G}:app:1.0", tmp_path / "project", local, {"scenario": server.url})
    plan = _resolver(scenario_repo).plan(
        installed_spark(), [Need("output:app", (Coordinate.parse(f"{G}:app:1.0"),))])
    assert {str(n.coordinate): n.scope for n in plan.nodes} == maven == EXPECTED
