"""What the installed PySpark is: Spark, Scala and Hadoop versions, and the jars it ships.

Read from the installed package without starting a JVM: ``pyspark.__version__`` and the jar
names in ``pyspark/jars`` (``scala-library-2.13.x.jar``, ``hadoop-client-api-3.x.jar``). Jars
carry their Maven group in ``META-INF/maven/<group>/<artifact>/pom.properties`` when Maven built
them; for the others the group is unknown and matching uses the artifact alone.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dvt_connect.errors import DvtError


class SparkNotInstalledError(DvtError):
    def __init__(self, problem: str) -> None:
        super().__init__(f"cannot read the installed PySpark: {problem}",
                         hint="Install it with `pip install pyspark`.")


@dataclass(frozen=True)
class ShippedJar:
    group: str | None
    artifact: str
    version: str
    file: str


@dataclass(frozen=True)
class SparkInstall:
    spark_version: str
    spark_minor: str
    scala_binary: str
    hadoop_version: str
    jars_dir: Path

    def describe(self) -> str:
        return (f"Spark {self.spark_version} (Scala {self.scala_binary}, "
                f"Hadoop {self.hadoop_version})")


def _split(name: str) -> tuple[str, str] | None:
    """``artifact-version.jar`` -> (artifact, version); the version starts at the first
    ``-<digit>`` after which no word-then-number part follows (``log4j-1.2-api-2.25.4``)."""
    if not name.endswith(".jar"):
        return None
    stem = name[:-4]
    for match in re.finditer(r"-(?=\d)", stem):
        rest = stem[match.end():]
        if not re.search(r"-[A-Za-z]+-\d", "-" + rest):
            return stem[: match.start()], rest
    return None


@lru_cache(maxsize=4)
def _installed(jars_dir: Path, version: str) -> SparkInstall:
    scala = hadoop = None
    for jar in jars_dir.glob("*.jar"):
        split = _split(jar.name)
        if not split:
            continue
        artifact, jar_version = split
        if artifact == "scala-library":
            scala = ".".join(jar_version.split(".")[:2])
        elif artifact in ("hadoop-client-api", "hadoop-common") and hadoop is None:
            hadoop = jar_version
    if scala is None:
        raise SparkNotInstalledError(f"no scala-library jar in {jars_dir}.")
    if hadoop is None:
        raise SparkNotInstalledError(f"no hadoop-client-api jar in {jars_dir}.")
    return SparkInstall(
        spark_version=version,
        spark_minor=".".join(version.split(".")[:2]),
        scala_binary=scala,
        hadoop_version=hadoop,
        jars_dir=jars_dir,
    )


def installed_spark() -> SparkInstall:
    """The PySpark installed beside dvt-connect."""
    try:
        import pyspark
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise SparkNotInstalledError(str(exc)) from None
    jars_dir = Path(pyspark.__file__).parent / "jars"
    if not jars_dir.is_dir():
        raise SparkNotInstalledError(f"{jars_dir} does not exist.")
    return _installed(jars_dir, pyspark.__version__)


def _from_jar(jar: Path) -> list[tuple[str, str, str]]:
    """(group, artifact, version) of every pom.properties inside the jar."""
    found = []
    try:
        with zipfile.ZipFile(jar) as zf:
            for name in zf.namelist():
                if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                    props: dict[str, str] = {}
                    for line in zf.read(name).decode("utf-8", "replace").splitlines():
                        if "=" in line and not line.startswith("#"):
                            k, v = line.split("=", 1)
                            props[k.strip()] = v.strip()
                    if {"groupId", "artifactId", "version"} <= props.keys():
                        found.append((props["groupId"], props["artifactId"], props["version"]))
    except (OSError, zipfile.BadZipFile):
        return []
    return found


def shipped_jars(spark: SparkInstall, cache_dir: Path | None = None) -> list[ShippedJar]:
    """Every jar Spark ships, with its Maven group when the jar records it.

    Reading 280 jars' directories takes a moment, so the answer is cached per Spark install.
    """
    cache = None
    if cache_dir is not None:
        cache = cache_dir / f"spark-{spark.spark_version}-shipped.json"
        try:
            stamp = spark.jars_dir.stat().st_mtime_ns
            data = json.loads(cache.read_text())
            if data.get("jars_dir") == str(spark.jars_dir) and data.get("stamp") == stamp:
                return [ShippedJar(**j) for j in data["jars"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    result: list[ShippedJar] = []
    for jar in sorted(spark.jars_dir.glob("*.jar")):
        split = _split(jar.name)
        if not split:
            continue
        artifact, version = split
        group = None
        for g, a, v in _from_jar(jar):
            if a == artifact or (a in artifact and v == version):
                group, artifact, version = g, a, v
                break
        result.append(ShippedJar(group, artifact, version, jar.name))
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({
                "jars_dir": str(spark.jars_dir), "stamp": spark.jars_dir.stat().st_mtime_ns,
                "jars": [j.__dict__ for j in result]}))
        except OSError:
            pass
    return result


class Shipped:
    """Lookup of Spark's own jars by (group, artifact); artifact alone when the group is
    unknown."""

    def __init__(self, jars: list[ShippedJar]) -> None:
        self.by_ga = {(j.group, j.artifact): j for j in jars if j.group}
        self.by_artifact = {j.artifact: j for j in jars if not j.group}

    def get(self, group: str, artifact: str) -> ShippedJar | None:
        return self.by_ga.get((group, artifact)) or self.by_artifact.get(artifact)
