"""A local master's Python workers import PySpark from its installation, compiled, not from the
source-only ``python/lib/pyspark.zip`` Spark puts first on their path
(:mod:`dvt_connect.spark_daemon`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.spark_daemon import installed_package_zips, without_zips


def test_the_zips_dropped_are_those_of_an_installed_pyspark_package_only(tmp_path: Path) -> None:
    import pyspark

    home = Path(pyspark.__file__).parent
    assert installed_package_zips(str(home)) == {
        str(p) for p in (home / "python" / "lib").glob("*.zip")}
    assert any(p.endswith("pyspark.zip") for p in installed_package_zips(str(home)))
    # a Spark distribution (SPARK_HOME not an importable package): its zips are its PySpark
    dist = tmp_path / "spark-4.3.0-bin-hadoop3"
    (dist / "python" / "lib").mkdir(parents=True)
    (dist / "python" / "lib" / "pyspark.zip").write_bytes(b"")
    assert installed_package_zips(str(dist)) == set()
    assert installed_package_zips("") == set()


def test_the_zips_stay_when_pyspark_would_not_import_from_the_package_without_them(
        tmp_path: Path) -> None:
    import sys

    import pyspark

    home = Path(pyspark.__file__).parent
    zips = sorted(installed_package_zips(str(home)))
    path = [*zips, *sys.path]
    assert without_zips(path, str(home)) == [p for p in path if p not in zips]
    # an interpreter whose path has no installed PySpark (only the zips) keeps them
    assert without_zips([*zips, str(tmp_path)], str(home)) == [*zips, str(tmp_path)]


@pytest.mark.spark
def test_local_workers_import_pyspark_compiled_from_its_installation(spark: Any) -> None:
    import pyspark

    def where(_: Iterator[int]) -> Iterator[tuple[str, list[str]]]:
        import sys

        import pyspark.worker

        yield pyspark.worker.__file__ or "", [p for p in sys.path if p.endswith(".zip")]

    conf = spark.sparkContext.getConf()
    assert conf.get("spark.python.daemon.module") == "dvt_connect.spark_daemon"
    ((file, zips),) = spark.sparkContext.parallelize([0], 1).mapPartitions(where).collect()
    assert Path(file).parent == Path(pyspark.__file__).parent, file  # not .../pyspark.zip/...
    assert not [z for z in zips if z.endswith(("pyspark.zip", "-src.zip"))], zips
