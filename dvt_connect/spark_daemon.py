"""PySpark's Python daemon, importing PySpark from its installation's compiled modules.

Spark puts ``$SPARK_HOME/python/lib/pyspark.zip`` (and py4j's zip) first on its Python
workers' path. With PySpark installed from pip, ``SPARK_HOME`` is the installed package itself,
and its zip holds the same modules as source only: every worker the daemon forks compiled
``pyspark.worker`` and what it imports again (zipimport neither reads nor writes ``.pyc``
files). Measured here: about 1.2 CPU-s of a 1M-row PostgreSQL -> Parquet transfer's Python
workers. The session names this module as ``spark.python.daemon.module`` on a local master
only; it drops those zips from the path when ``SPARK_HOME`` is that installed package (or dvt's
home linking to it, :mod:`dvt_connect.spark_home`) and this interpreter imports PySpark from
there without them (so the same code is imported, compiled), then runs PySpark's own daemon.
Anywhere else it changes nothing.

It also imports, before it forks any worker, the modules the session names in
``DVT_WORKER_PRELOAD`` (``pyspark.worker`` and the Arrow route's task and driver modules,
:func:`preload_modules`): each worker the daemon forks finds them imported instead of importing
them itself. Only modules that start no thread may be imported before a fork (a forked child
keeps a lock another thread held, and none of its threads): a module that turns out to start one
makes the daemon start again without preloading, in place (same process and pipes, so the JVM
sees nothing). Measured on a 1M-row PostgreSQL -> Parquet transfer: its two workers were ready
about 0.07-0.1 s sooner.

When the JVM gives it a zygote's address (``DVT_ZYGOTE_ADDRESS``, :mod:`dvt_connect.spark_zygote`),
it first asks that zygote, started with the driver and its imports done, to run the daemon on
this process's streams; it then only stands in for that daemon. Anything the zygote declines
runs here as above.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from dvt_connect.spark_home import package_of
from dvt_connect.spark_zygote import ADDRESS_ENV as ZYGOTE_ADDRESS_ENV

MODULE = "dvt_connect.spark_daemon"
PRELOAD_ENV = "DVT_WORKER_PRELOAD"
# packages that start threads when imported (numpy's BLAS pool where not limited to one,
# pyarrow's allocator): never imported before a fork
THREADED = frozenset({"pyarrow", "numpy", "pandas"})


def split_threaded(modules: Iterable[str]) -> tuple[list[str], list[str]]:
    """``modules`` (each once, in order) as those that start no thread on import and those of
    :data:`THREADED` packages."""
    wanted = list(dict.fromkeys(modules))
    plain = [m for m in wanted if m.split(".", 1)[0] not in THREADED]
    return plain, [m for m in wanted if m not in plain]


def preload_modules(modules: Iterable[str]) -> list[str]:
    """What the daemon imports before forking: PySpark's worker, then ``modules`` but those of
    :data:`THREADED` packages."""
    return split_threaded(["pyspark.worker", *modules])[0]


def threads() -> int | None:
    """This process's threads (Linux ``/proc``); None where it cannot be told."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def preload(modules: Iterable[str]) -> bool:
    """Import ``modules`` (one that is not installed is skipped: the task reports it); False as
    soon as one leaves this process with more than one thread, or threads cannot be counted."""
    import contextlib
    import importlib

    for module in modules:
        if threads() != 1:
            return False
        # the daemon's stdout carries its port to the JVM: nothing else may reach it
        with contextlib.suppress(ImportError), contextlib.redirect_stdout(sys.stderr):
            importlib.import_module(module)
    return threads() == 1


def installed_package_zips(spark_home: str) -> set[str]:
    """The zips under ``spark_home/python/lib`` when that folder is an installed ``pyspark``
    package's (a ``pyspark`` folder with an ``__init__.py``, as pip installs it: the package
    itself as ``SPARK_HOME``, or dvt's home linking to it, :mod:`dvt_connect.spark_home`)."""
    package = package_of(spark_home)
    if package is None:
        return set()
    lib = os.path.join(package, "python", "lib")
    return {os.path.join(lib, name) for name in os.listdir(lib) if name.endswith(".zip")} \
        if os.path.isdir(lib) else set()


def without_zips(path: list[str], spark_home: str) -> list[str]:
    """``path`` without the installed package's zips, when PySpark still imports from that
    very package without them; else ``path`` as it is."""
    from importlib.machinery import PathFinder

    zips = installed_package_zips(spark_home)
    if not zips:
        return path
    kept = [p for p in path if os.path.realpath(p) not in zips]
    spec = PathFinder.find_spec("pyspark", kept)
    origin = spec.origin if spec is not None else None
    if origin is None or os.path.dirname(os.path.realpath(origin)) != str(package_of(spark_home)):
        return path
    return kept


def main() -> None:
    address = os.environ.pop(ZYGOTE_ADDRESS_ENV, "")
    if address:  # the driver's zygote forks the daemon, its imports done (returns if it cannot)
        from dvt_connect.spark_zygote import hand_over

        hand_over(address)
    sys.path[:] = without_zips(sys.path, os.environ.get("SPARK_HOME", ""))
    wanted = [m for m in os.environ.get(PRELOAD_ENV, "").split(",") if m]
    if wanted and not preload(wanted):
        # a thread now runs in this process: start again, in place, importing nothing first
        env = {k: v for k, v in os.environ.items() if k != PRELOAD_ENV}
        os.execve(sys.executable, [sys.executable, "-m", MODULE, *sys.argv[1:]], env)
    from pyspark import daemon

    daemon.manager()


if __name__ == "__main__":
    main()
