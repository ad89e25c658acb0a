"""Our Python code on executors that are not this interpreter: ship it, then check what it imports.

The bulk paths run Python inside Spark tasks (a Python data source, a staged export). On
``local[N]`` the tasks run this interpreter; on a standalone, YARN or Kubernetes master, or on a
Spark Connect server elsewhere, they run the workers' Python, which has neither our package nor,
unless installed there, the database drivers. The package goes with the job as a zip built once
per version of its source in the dvt cache (``SparkContext.addPyFile``; on Connect
``SparkSession.addArtifacts(pyfile=True)``); the drivers cannot travel (compiled wheels), so a tiny
job asks the executors which ones they lack before any data moves.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_connect.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PACKAGE = "dvt_connect"
_SHIPPED = (".py", ".properties")
_checked: dict[tuple[int, tuple[str, ...]], list[str]] = {}
_sent: set[tuple[int, str]] = set()


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


def ship_package(spark: SparkSession, cache: Path) -> Path:
    """Send the package with the job: every executor puts the zip on its ``sys.path`` (on Spark
    Connect the zip is uploaded to the server as a Python artifact of this session)."""
    from dvt_connect.spark import is_connect

    path = package_zip(cache)
    if is_connect(spark):
        spark.addArtifacts(str(path), pyfile=True)
    else:
        spark.sparkContext.addPyFile(str(path))
    return path


def ship_file(spark: SparkSession, path: Path) -> None:
    """Send one file with the job: tasks find it under its name in ``SparkFiles`` (on Spark
    Connect, as a file artifact of this session). Sent once per session."""
    from dvt_connect.spark import is_connect

    key = (id(spark), str(path))
    if key in _sent:
        return
    if is_connect(spark):
        spark.addArtifacts(str(path), file=True)
    else:
        spark.sparkContext.addFile(str(path))
    _sent.add(key)


def missing_on_executors(spark: SparkSession, modules: Iterable[str]) -> list[str]:
    """The modules some executor cannot import, found by one task per default-parallel slot
    (asked once per session and module list). On Connect, which has no RDDs, the tasks are an
    Arrow map (the workers of a Connect server have pyarrow: PySpark needs it there)."""
    from dvt_connect.spark import default_parallelism, is_connect

    wanted = tuple(dict.fromkeys([PACKAGE, *modules]))
    key = (id(spark), wanted)
    if key in _checked:
        return _checked[key]

    def lacking(_rows: Iterable[Any]) -> Iterable[str]:  # pickled by value: needs no dvt_connect
        import importlib.util

        return [m for m in wanted if importlib.util.find_spec(m) is None]

    def lacking_arrow(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        yield pa.RecordBatch.from_pydict({"module": list(lacking(batches))},
                                         schema=pa.schema([("module", pa.string())]))

    slots = default_parallelism(spark)
    if is_connect(spark):
        found = {row[0] for row in spark.range(slots, numPartitions=slots)
                 .mapInArrow(lacking_arrow, "module string").collect()}
    else:
        found = set(spark.sparkContext.parallelize(range(slots), slots)
                    .mapPartitions(lacking).collect())
    missing = [m for m in wanted if m in found]
    _checked[key] = missing
    return missing


def require_on_executors(spark: SparkSession, modules: Iterable[str], *, what: str,
                         extra: str | None) -> None:
    """One error naming the modules the executors lack, and the pip command to run on every
    worker, instead of a task failure deep in the executor log."""
    from dvt_connect.spark import master_of

    missing = missing_on_executors(spark, modules)
    if not missing:
        return
    where = master_of(spark)
    install = f'pip install "dvt-connect[{extra}]"' if extra else "pip install " + " ".join(
        missing)
    if missing == [PACKAGE]:
        raise ConfigError(
            f"{what} runs Python on the executors of {where}, and they cannot import "
            f"`{PACKAGE}` although it was shipped with the job.",
            hint="Check that the workers' Python (spark.pyspark.python) matches the driver's "
                 f"version, or install dvt-connect on the workers (`{install}`).")
    raise ConfigError(
        f"{what} runs Python on the executors of {where}, and they cannot import "
        + ", ".join(f"`{m}`" for m in missing) + ".",
        hint=f"Install them in the workers' Python (`{install}` on every worker, or set "
             "spark.pyspark.python to a Python that has them), or use --connector jdbc.")


class _Imports:
    """A task body importing ``modules`` (a warm-up: the worker keeps them)."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        self.modules = modules

    def __call__(self, items: Iterable[int]) -> Iterator[int]:
        import importlib

        for module in self.modules:
            with contextlib.suppress(ImportError):  # the move itself reports a missing one
                importlib.import_module(module)
        yield sum(1 for _ in items)


def _local_slots(spark: Any) -> int | None:
    """The number of task slots of a classic ``local`` session, or None elsewhere (a cluster's
    executors and a Spark Connect server start their own Python workers)."""
    from dvt_connect.spark import is_connect

    if is_connect(spark) or not str(spark.sparkContext.master).startswith("local"):
        return None
    return max(1, int(spark.sparkContext.defaultParallelism))


def _start_workers(context: Any, modules: Iterable[str], slots: int) -> None:
    task = _Imports(tuple(dict.fromkeys(modules)))
    context.parallelize(range(slots), slots).mapPartitions(task).collect()


class WorkerStart:
    """The Python workers of a local ``context`` (a ``SparkContext``), one per task slot
    (``slots``), started by a job on a thread of its own, each importing ``modules`` (Spark
    reuses its Python workers, so later tasks find them started), while the caller goes on (a
    transfer plans meanwhile); under the job group ``group`` if given, so that a wait that runs
    out can cancel it."""

    def __init__(self, context: Any, modules: Iterable[str], *, slots: int,
                 group: str | None = None, description: str = "") -> None:
        self.context = context
        self.modules = tuple(modules)
        self.slots = slots
        self.group = group
        self.description = description
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="dvt-python-workers", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if self.group is not None:
            self.context.setJobGroup(self.group, self.description)
        try:
            _start_workers(self.context, self.modules, self.slots)
        except Exception as exc:  # noqa: BLE001 - the caller decides (result() raises it)
            self.failure = exc

    def join(self, timeout: float) -> bool:
        """Wait ``timeout`` seconds at most; whether the start has ended (well or not)."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def result(self, timeout: float) -> None:
        """Wait ``timeout`` seconds at most for the start: then its job group is cancelled and
        TimeoutError raised; its failure is raised here."""
        if not self.join(timeout):
            if self.group is not None:
                self.context.cancelJobGroup(self.group)
            raise TimeoutError(f"the Python workers did not start within {timeout:g} s")
        if self.failure is not None:
            raise self.failure


def warm_python_workers(spark: Any, modules: Iterable[str], *, group: str | None = None,
                        description: str = "") -> WorkerStart | None:
    """:class:`WorkerStart` for ``spark`` while the driver plans, best effort (a failed warm-up
    costs the move its head start, nothing else: join it before the move, its failure ignored),
    or None off a classic ``local`` master."""
    slots = _local_slots(spark)
    return None if slots is None else WorkerStart(spark.sparkContext, modules, slots=slots,
                                                  group=group, description=description)
