"""Our Python code on a classic cluster's executors: ship it, then check what it imports.

The bulk paths run Python inside Spark tasks (a Python data source, a staged export). On
``local[N]`` the tasks run this interpreter; on a standalone, YARN or Kubernetes master they run
the workers' Python, which has neither our package nor, unless installed there, the database
drivers. The package goes with the job as a zip built once per version of its source in the dvt
cache (``SparkContext.addPyFile``); the drivers cannot travel (compiled wheels), so a tiny job
asks the executors which ones they lack before any data moves.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_connect.errors import ConfigError

if TYPE_CHECKING:
    from pyspark import SparkContext

PACKAGE = "dvt_connect"
_SHIPPED = (".py", ".properties")
_checked: dict[tuple[int, tuple[str, ...]], list[str]] = {}


def on_classic_cluster(sc: SparkContext) -> bool:
    """Tasks run outside this interpreter: a standalone, YARN or Kubernetes master."""
    return not str(sc.master).startswith("local")


def package_files(root: Path) -> list[Path]:
    """The files of the package the executors need (sources and package data, no caches)."""
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.suffix in _SHIPPED and "__pycache__" not in p.parts)


def package_zip(cache: Path) -> Path:
    """``<cache>/pyfiles/dvt_connect-<digest>.zip``, built when the package's sources change
    (the digest covers every shipped file's path and content)."""
    import dvt_connect

    root = Path(dvt_connect.__file__).parent
    files = package_files(root)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    target = cache / "pyfiles" / f"{PACKAGE}-{digest.hexdigest()[:16]}.zip"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, f"{PACKAGE}/{path.relative_to(root)}")
    partial.replace(target)
    return target


def ship_package(sc: SparkContext, cache: Path) -> Path:
    """Send the package with the job: every executor puts the zip on its ``sys.path``."""
    path = package_zip(cache)
    sc.addPyFile(str(path))
    return path


def missing_on_executors(sc: SparkContext, modules: Iterable[str]) -> list[str]:
    """The modules some executor cannot import, found by one task per default-parallel slot
    (asked once per session and module list)."""
    wanted = tuple(dict.fromkeys([PACKAGE, *modules]))
    key = (id(sc), wanted)
    if key in _checked:
        return _checked[key]

    def probe(_rows: Iterable[Any]) -> Iterable[str]:  # pickled by value: needs no dvt_connect
        import importlib.util

        return [m for m in wanted if importlib.util.find_spec(m) is None]

    slots = max(1, int(sc.defaultParallelism))
    found = sc.parallelize(range(slots), slots).mapPartitions(probe).collect()
    missing = [m for m in wanted if m in set(found)]
    _checked[key] = missing
    return missing


def require_on_executors(sc: SparkContext, modules: Iterable[str], *, what: str,
                         extra: str | None) -> None:
    """One error naming the modules the cluster's executors lack, and the pip command to run
    on every worker, instead of a task failure deep in the executor log."""
    missing = missing_on_executors(sc, modules)
    if not missing:
        return
    install = f'pip install "dvt-connect[{extra}]"' if extra else "pip install " + " ".join(
        missing)
    if missing == [PACKAGE]:
        raise ConfigError(
            f"{what} runs Python on the executors of {sc.master}, and they cannot import "
            f"`{PACKAGE}` although it was shipped with the job.",
            hint="Check that the workers' Python (spark.pyspark.python) matches the driver's "
                 f"version, or install dvt-connect on the workers (`{install}`).")
    raise ConfigError(
        f"{what} runs Python on the executors of {sc.master}, and they cannot import "
        + ", ".join(f"`{m}`" for m in missing) + ".",
        hint=f"Install them in the workers' Python (`{install}` on every worker, or set "
             "spark.pyspark.python to a Python that has them), or use --connector jdbc.")
