"""The JVMs dvt starts run from a Spark home without Spark ML (:mod:`dvt_connect.spark_home`):
Spark ML's session extension no longer runs in every SparkSession's constructor."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dvt_connect import spark as spark_mod
from dvt_connect.spark_daemon import installed_package_zips, without_zips
from dvt_connect.spark_home import (
    LEFT_OUT,
    driver_home,
    light_home,
    package_home,
    package_of,
)

ML_EXTENSION = "org.apache.spark.sql.ml.InternalFunctionRegistration"


def _jars(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.jar")}


def test_the_light_home_links_the_package_but_spark_mls_jars(tmp_path: Path) -> None:
    package = package_home()
    home = light_home(tmp_path)
    assert home is not None and home.parent == tmp_path
    everything = _jars(package / "jars")
    assert any(name.startswith("spark-mllib_") for name in everything)
    kept = _jars(home / "jars")
    assert kept == {n for n in everything if not n.startswith(LEFT_OUT)}
    assert kept and all((home / "jars" / n).resolve() == package / "jars" / n for n in kept)
    assert (home / "bin").resolve() == package / "bin"
    assert (home / "bin" / "spark-submit").is_file()
    assert package_of(home) == package_of(package) == package
    # built once: a second call finds it; nothing half-built is left beside it
    assert light_home(tmp_path) == home
    assert [p.name for p in tmp_path.iterdir()] == [home.name]


def test_a_killed_builders_leftover_is_removed_and_an_unusable_cache_is_no_error(
        tmp_path: Path) -> None:
    first = light_home(tmp_path / "a")
    assert first is not None
    leftover = tmp_path / "b" / f"{first.name}.999999999.partial"
    (leftover / "jars").mkdir(parents=True)
    home = light_home(tmp_path / "b")
    assert home is not None and not leftover.exists()

    # a cache that cannot hold it (here a file where the folder would be): the package's home
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    assert light_home(blocked) is None
    assert driver_home(blocked) == package_home()


def test_which_home_a_jvm_gets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = package_home()
    monkeypatch.delenv("SPARK_HOME", raising=False)
    monkeypatch.delenv("DVT_LIGHT_HOME", raising=False)
    light = driver_home(tmp_path)
    assert light is not None and light.parent == tmp_path
    # PySpark's own home named, or dvt's: the light one
    monkeypatch.setenv("SPARK_HOME", str(package))
    assert driver_home(tmp_path) == light
    monkeypatch.setenv("SPARK_HOME", str(light))
    assert driver_home(tmp_path) == light
    # a Spark distribution of the user's is theirs: left as it is
    dist = tmp_path / "spark-4.3.0-bin-hadoop3"
    (dist / "python" / "lib").mkdir(parents=True)
    monkeypatch.setenv("SPARK_HOME", str(dist))
    assert driver_home(tmp_path) is None
    # DVT_LIGHT_HOME=0: the package's own home, Spark ML included
    monkeypatch.delenv("SPARK_HOME")
    monkeypatch.setenv("DVT_LIGHT_HOME", "0")
    assert driver_home(tmp_path) == package


def test_the_session_spec_carries_the_home_and_its_own_jvm_archive(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SPARK_HOME", raising=False)
    monkeypatch.delenv("DVT_LIGHT_HOME", raising=False)
    spec = spark_mod.session_spec(master="local[2]")
    home = Path(spec.home)
    assert home.parent == tmp_path / "dvt-connect" and (home / "jars").is_dir()
    assert spec.describe()["spark_home"] == spec.home
    # one JVM archive per home (it records the class path)
    light = spark_mod.class_data_sharing(tmp_path, home)
    own = spark_mod.class_data_sharing(tmp_path, package_home())
    assert light != own
    assert spark_mod.session_spec(master="sc://127.0.0.1:15002").home == ""


def test_the_daemon_drops_the_packages_zips_under_the_light_home_too(tmp_path: Path) -> None:
    import sys

    package = package_home()
    home = light_home(tmp_path)
    assert home is not None
    zips = installed_package_zips(str(package))
    assert zips and installed_package_zips(str(home)) == zips
    # as Spark puts them on a worker's path: under the home it was started from
    linked = sorted(str(home / "python" / "lib" / Path(z).name) for z in zips)
    path = [*linked, *sys.path]
    assert without_zips(path, str(home)) == list(sys.path)


@pytest.mark.spark
def test_the_session_runs_without_spark_ml_on_its_class_path(spark: Any) -> None:
    jvm = spark._jvm
    class_path = str(jvm.java.lang.System.getProperty("java.class.path"))
    assert "spark-sql_" in class_path and "spark-mllib" not in class_path, class_path
    with pytest.raises(Exception, match="ClassNotFoundException"):
        jvm.java.lang.Class.forName(ML_EXTENSION)
    spec = spark_mod._session_spec
    assert spec is not None and spec.home and os.environ["SPARK_HOME"] == spec.home


def test_dvt_debug_says_which_home_and_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dvt_connect.doctor import _home_check

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SPARK_HOME", raising=False)
    monkeypatch.delenv("DVT_LIGHT_HOME", raising=False)
    check = _home_check()
    assert check.value.startswith(str(tmp_path / "dvt-connect" / "spark-home-"))
    assert "but Spark ML's" in check.detail and "DVT_LIGHT_HOME=0" in check.detail
    monkeypatch.setenv("DVT_LIGHT_HOME", "0")
    check = _home_check()
    assert check.value == str(package_home()) and "DVT_LIGHT_HOME=0" in check.detail
    monkeypatch.delenv("DVT_LIGHT_HOME")
    dist = tmp_path / "spark-dist"
    (dist / "python").mkdir(parents=True)
    monkeypatch.setenv("SPARK_HOME", str(dist))
    check = _home_check()
    assert check.value == str(dist) and "used as it is" in check.detail
    # a cache that cannot hold dvt's home: the package's own, and why
    monkeypatch.delenv("SPARK_HOME")
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    check = _home_check()
    assert check.value == str(package_home()) and "cannot hold" in check.detail
