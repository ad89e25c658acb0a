"""The Spark home dvt's JVMs start from: the installed PySpark's, without Spark ML.

PySpark's pip package puts every jar of Spark on the driver's class path (``$SPARK_HOME/jars/*``).
One of them, ``spark-mllib``, registers a session extension through Java's ``ServiceLoader``
(``org.apache.spark.sql.ml.InternalFunctionRegistration``) which every SparkSession runs as it is
built: it starts Scala's runtime reflection and Spark SQL's built-in function registry to declare
ML's internal functions. Measured on the 2-core VM (JFR samples of ``new SparkSession``): 22 of
its 30 samples, the constructor 1.7-2.4 s with the class-data-sharing archive, 4.2-5.8 s
without it, against 0.22 s without the jar. dvt uses no Spark ML, so the JVMs it starts (the
driver, ``dvt server``) start from a home of its own in the dvt cache: symbolic links to the
installed package's ``bin``, ``python`` and ``conf`` and to each of its jars but Spark ML's.

A ``SPARK_HOME`` naming another Spark (a distribution a user installed) is left as it is;
``DVT_LIGHT_HOME=0`` keeps the installed package's own home (Spark ML on the class path).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

LIGHT_HOME_ENV = "DVT_LIGHT_HOME"
# the jars left out: Spark ML's (the session extension above, and its local algebra)
LEFT_OUT = ("spark-mllib_", "spark-mllib-local_")
LINKED = ("bin", "python", "conf", "RELEASE")


def package_home() -> Path:
    """The installed ``pyspark`` package: PySpark's own ``SPARK_HOME`` when pip installed it."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def package_of(home: str | os.PathLike[str]) -> Path | None:
    """The installed ``pyspark`` package whose Python a Spark home's ``python`` folder is (the
    package's own home, or a light home linking to it); None for a Spark distribution."""
    if not str(home):
        return None
    package = Path(os.path.realpath(os.path.join(home, "python"))).parent
    if package.name != "pyspark" or not (package / "__init__.py").is_file():
        return None
    return package


def writer_gone(partial: Path) -> bool:
    """Whether the process a ``<name>.<pid>.partial`` file or folder in the dvt cache is named
    after has exited (Linux ``/proc``); False for a name without a PID."""
    pid = partial.name.rsplit(".", 2)[-2] if partial.name.count(".") >= 2 else ""
    return pid.isdigit() and not Path(f"/proc/{pid}").exists()


def driver_home(cache: Path) -> Path | None:
    """The ``SPARK_HOME`` a JVM dvt starts gets: :func:`light_home`, unless ``SPARK_HOME``
    names another Spark than the installed package (None: leave it as it is) or
    ``DVT_LIGHT_HOME=0`` (the package's home)."""
    current = os.environ.get("SPARK_HOME", "")
    package = package_home()
    if current and package_of(current) != package:
        return None  # a Spark distribution of the user's: its jars are theirs to choose
    if os.environ.get(LIGHT_HOME_ENV, "1") == "0":
        return package
    return light_home(cache, package) or package


def light_home(cache: Path, package: Path | None = None) -> Path | None:
    """The package's home without :data:`LEFT_OUT`, built once per installation (its path and
    jar names) under ``cache``; None when there is nothing to leave out or it cannot be built
    (a read-only cache: the package's own home serves)."""
    package = package or package_home()
    try:
        names = sorted(n for n in os.listdir(package / "jars") if n.endswith(".jar"))
    except OSError:
        return None
    kept = [n for n in names if not n.startswith(LEFT_OUT)]
    if len(kept) == len(names):
        return None
    import pyspark

    key = hashlib.sha256("\n".join([str(package), *names]).encode()).hexdigest()[:10]
    home = cache / f"spark-home-{pyspark.__version__}-{key}"
    if (home / "jars").is_dir():
        return home
    for stale in cache.glob(f"{home.name}.*.partial"):  # a killed process's
        if writer_gone(stale):
            shutil.rmtree(stale, ignore_errors=True)
    building = cache / f"{home.name}.{os.getpid()}.partial"
    try:
        shutil.rmtree(building, ignore_errors=True)
        (building / "jars").mkdir(parents=True)
        for name in LINKED:
            if (package / name).exists():
                (building / name).symlink_to(package / name)
        for name in kept:
            (building / "jars" / name).symlink_to(package / "jars" / name)
        try:
            building.rename(home)  # whole or not at all
        except OSError:
            if not (home / "jars").is_dir():  # not another process's, which won the race
                raise
    except OSError:
        return None
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return home
