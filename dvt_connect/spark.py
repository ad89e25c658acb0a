"""The one Spark session builder every command and test uses.

Plan, then execute: :func:`session_spec` is pure (master, conf, jars) and :func:`get_session`
starts the JVM once per process. Java is checked before PySpark tries, so a missing or old Java is
one clear error, not a Py4J trace.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_connect import interrupts
from dvt_connect.connect_server import LOCAL_SERVER
from dvt_connect.errors import DvtError, JavaError, UsageError
from dvt_connect.secrets import is_secret_conf_key, masked_conf

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.executors import WorkerStart
    from dvt_connect.spark_zygote import Zygote

# Spark 4 runs on Java 17 and 21.
MIN_JAVA = 17
DEFAULT_MASTER = "local[*]"
MASTER_ENV = "DVT_SPARK_MASTER"
# JVM options added to those dvt gives the Spark driver and executors (never replacing them: the
# UTC zone the drivers convert through stays), e.g. `-XX:TieredStopAtLevel=1` for short runs
JAVA_OPTIONS_ENV = "DVT_JAVA_OPTIONS"
# C1-only JIT for a driver that plans and schedules Python tasks (the Arrow route) or moves no
# data: it cuts the JVM's fixed cost (README "Arrow end to end"); DVT_QUICK_JIT=0 never, =1 always.
# With it, the serial collector and a 32 MiB young generation: such a driver allocates little,
# and G1 with its default young generation (sized from a 1/64-of-RAM initial heap) touched about
# 80 MiB more of it (measured: PostgreSQL -> Parquet at 1M and 5M rows, peak of the JVM 389-393
# against 311 MiB, of the process tree 759-770 against 678-692 MiB, at the same speed)
QUICK_JIT_ENV = "DVT_QUICK_JIT"
QUICK_JIT = "-XX:TieredStopAtLevel=1"
QUICK_DRIVER = (QUICK_JIT, "-XX:+UseSerialGC", "-Xmn32m")
_CHOSEN_GC = re.compile(r"-XX:\+Use\w+GC")
_APPENDED = ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")
_MASTER_FORMS = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|spark://\S+|yarn|k8s://\S+|sc://\S+"
                           r"|" + LOCAL_SERVER)

_lock = threading.Lock()
_session: SparkSession | None = None
_session_spec: SessionSpec | None = None
_worker_start: WorkerStart | None = None
_zygote: Zygote | None = None


@dataclass(frozen=True)
class JavaInfo:
    path: str
    version: str
    major: int


@lru_cache(maxsize=1)
def find_java() -> JavaInfo:
    """The Java that PySpark will launch (``JAVA_HOME`` first, then ``PATH``)."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = None
    if java_home:
        candidate = str(Path(java_home) / "bin" / "java")
        if not os.access(candidate, os.X_OK):
            raise JavaError(
                f"JAVA_HOME is {java_home}, but {candidate} is not an executable.",
                hint="Point JAVA_HOME at a Java 17 or 21 installation, or unset it.",
            )
    else:
        candidate = shutil.which("java")
    if not candidate:
        raise JavaError(
            "Java was not found (no JAVA_HOME, no `java` on PATH); Spark needs Java "
            f"{MIN_JAVA} or newer.",
            hint="Install it (Debian: `apt-get install openjdk-17-jre-headless`) "
            "or run `make setup`.",
        )
    version = _release_version(candidate)
    if version is None:
        try:
            out = subprocess.run([candidate, "-version"], capture_output=True, text=True,
                                 timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise JavaError(f"could not run {candidate} -version: {exc}.") from None
        match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
        if not match:
            raise JavaError(f"could not read the Java version from `{candidate} -version`.")
        version = match.group(1)
    parts = version.split(".")
    major = int(parts[1]) if parts[0] == "1" else int(re.sub(r"\D.*", "", parts[0]) or 0)
    return JavaInfo(path=str(Path(candidate).resolve()), version=version, major=major)


def _release_version(java: str) -> str | None:
    """``JAVA_VERSION`` of the runtime ``java`` belongs to, from the ``release`` file beside its
    ``bin`` (every JDK and JRE image since Java 9 has one; it names the version ``java
    -version`` prints): read instead of starting a JVM for ``-version`` before the driver's
    own (0.02-0.2 s of each cold start here). None where there is no such file."""
    release = Path(java).resolve().parent.parent / "release"
    try:
        text = release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else None


def check_java() -> JavaInfo:
    java = find_java()
    if java.major < MIN_JAVA:
        raise JavaError(
            f"Java {java.version} at {java.path} is too old: Spark 4 needs Java {MIN_JAVA} "
            "or newer.",
            hint="Install Java 17 or 21 and point JAVA_HOME at it.",
        )
    return java


def default_driver_memory() -> str:
    """A quarter of the machine's memory, between 1 and 8 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2g"
    gib = max(1, min(8, total // (4 * 1024**3)))
    return f"{gib}g"


def _log4j_file() -> str:
    return str(resources.files("dvt_connect").joinpath("log4j2.properties"))


@dataclass(frozen=True)
class MasterChoice:
    """The Spark master a command runs on, and where that choice came from."""

    master: str
    origin: str

    @property
    def kind(self) -> str:
        """``local`` (in this process's JVM), ``connect`` (a Spark Connect server) or
        ``cluster`` (a classic master: standalone, YARN, Kubernetes)."""
        return master_kind(self.master)


def master_kind(master: str) -> str:
    if master.startswith("local") and master != LOCAL_SERVER:
        return "local"
    if master.startswith("sc://") or master == LOCAL_SERVER:
        return "connect"
    return "cluster"


def choose_master(flag: str | None, profile_master: str | None, *,
                  profile_name: str | None = None) -> MasterChoice:
    """``--master``, then ``DVT_SPARK_MASTER``, then the profile's ``spark.master``, then
    ``local[*]``; a value that is no master Spark knows is a usage error naming where it came
    from."""
    env = os.environ.get(MASTER_ENV)
    for value, origin in ((flag, "--master"), (env, MASTER_ENV),
                          (profile_master, f"profile `{profile_name}` spark.master"
                           if profile_name else "the profile's spark.master")):
        if value:
            value = value.strip()
            if not _MASTER_FORMS.fullmatch(value):
                raise UsageError(
                    f"{origin} is `{value}`, which is not a Spark master.",
                    hint="Use local[N], spark://host:port, yarn, k8s://https://host:port, "
                         f"sc://host:port or {LOCAL_SERVER} (`dvt server start`).")
            return MasterChoice(value, origin)
    return MasterChoice(DEFAULT_MASTER, "default")


@dataclass(frozen=True)
class SessionSpec:
    """Everything a session is started with: pure data, easy to test and to print."""

    master: str = DEFAULT_MASTER
    app_name: str = "dvt-connect"
    jars: tuple[str, ...] = ()
    conf: Mapping[str, str] = field(default_factory=dict)
    # a local master's Python workers start, importing these, as soon as its context runs:
    # while the SparkSession is built and the driver plans (:func:`take_worker_start`)
    warm_workers: tuple[str, ...] = ()
    # the SPARK_HOME a JVM started for it runs from (:func:`dvt_connect.spark_home.driver_home`;
    # empty: whatever the environment says)
    home: str = ""

    def all_conf(self) -> dict[str, str]:
        """What the session is built with; secret-named settings are left out (they would
        reach the JVM's command line) and set on the running context instead."""
        conf = {k: v for k, v in self.conf.items() if not is_secret_conf_key(k)}
        if self.jars:
            conf["spark.jars"] = ",".join(self.jars)
        return conf

    def runtime_conf(self) -> dict[str, str]:
        """Secret-named settings, set once the session runs (:func:`_apply_runtime_conf`)."""
        return {k: v for k, v in self.conf.items() if is_secret_conf_key(k)}

    @property
    def kind(self) -> str:
        return master_kind(self.master)

    def describe(self, origin: str = "", keys: Iterable[str] | None = None) -> dict[str, Any]:
        """The session as it may be shown: the master, why, and the settings named by ``keys``
        (default: all) with secret values masked."""
        shown = set(self.conf if keys is None else keys)
        return {"master": self.master, "origin": origin, "kind": self.kind,
                "spark_home": self.home or None,
                "conf": masked_conf({k: v for k, v in self.conf.items() if k in shown})}


def session_spec(
    *,
    master: str | None = None,
    jars: Iterable[str | Path] = (),
    hadoop_conf: Mapping[str, str] | None = None,
    conf: Mapping[str, str] | None = None,
    verbose: bool = False,
    quick_jit: bool = False,
    worker_modules: Iterable[str] = (),
    warm_workers: bool = False,
) -> SessionSpec:
    """Build the spec: our defaults, then the profile's ``spark.conf``, then ``hadoop_conf``.
    ``quick_jit``: the driver's work is short (see :func:`quick_jit_options`);
    ``worker_modules``: what the Python workers of a local master will import (the Arrow route's
    modules), imported before they are forked where that is safe; ``warm_workers``: a local
    master's workers start as soon as its context runs (:attr:`SessionSpec.warm_workers`).

    Everything here reaches the JVM's command line: never pass a secret. Bucket credentials go
    to the running context (:mod:`dvt_connect.transfer.credentials`)."""
    from dvt_connect.spark_home import driver_home

    kind = master_kind(master or DEFAULT_MASTER)
    # a JVM dvt starts runs from a home without Spark ML (none starts for Spark Connect)
    home = None if kind == "connect" else driver_home(cache_dir())
    merged: dict[str, str] = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": default_driver_memory(),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(max(4, (os.cpu_count() or 2) * 2)),
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        # Derby (the embedded demo source and Spark's own metastore) writes beside the CWD
        # unless told otherwise.
        # (no JVM starts here for a Spark Connect server or the attached local server: their
        # own JVM options apply, and Java need not even be asked its version)
        "spark.driver.extraJavaOptions": "" if kind == "connect" else _java_options(
            verbose, quick_jit, str((conf or {}).get("spark.driver.extraJavaOptions") or ""),
            home),
        "spark.executor.extraJavaOptions": " ".join(["-Duser.timezone=UTC",
                                                     *extra_java_options()]),
        # the Python workers' Arrow buffers come from the C library's allocator: pyarrow's
        # default (mimalloc) kept about 50 MiB more per worker, at the same speed (measured:
        # PostgreSQL -> Parquet, 1M rows, peak of the process tree 787 against 904 MiB; 5M
        # rows 7.5-7.8 s either way)
        "spark.executorEnv.ARROW_DEFAULT_MEMORY_POOL": "system",
    }
    if (master or DEFAULT_MASTER).startswith("local"):
        from dvt_connect import spark_daemon

        # the local workers import PySpark compiled, not from its source zip, and are forked
        # with PySpark's worker and ``worker_modules`` imported (:mod:`dvt_connect.spark_daemon`)
        merged["spark.python.daemon.module"] = spark_daemon.MODULE
        merged[f"spark.executorEnv.{spark_daemon.PRELOAD_ENV}"] = ",".join(
            spark_daemon.preload_modules(worker_modules))
    for key, value in (conf or {}).items():
        if key in _APPENDED and value:  # the profile's JVM options come after ours
            merged[key] = f"{merged[key]} {value}"
        else:
            merged[key] = value
    merged.update(hadoop_conf or {})
    return SessionSpec(
        master=master or DEFAULT_MASTER,
        jars=tuple(str(Path(j)) for j in jars),
        conf=merged,
        warm_workers=tuple(dict.fromkeys(worker_modules))
        if warm_workers and kind == "local" else (),
        home=str(home or ""),
    )


def _java_options(verbose: bool, quick_jit: bool = False, theirs: str = "",
                  home: Path | None = None) -> str:
    """The driver JVM's options: dvt's, then :func:`quick_jit_options`, then
    ``DVT_JAVA_OPTIONS``; ``theirs`` (the profile's own, which Spark appends) is only read, so
    that a collector chosen there or in ``DVT_JAVA_OPTIONS`` is not contradicted (a JVM given
    two refuses to start). ``home``: the Spark home the JVM runs from (its class path)."""
    from dvt_connect.paths import dvt_home

    # JDBC drivers convert timestamps through the JVM's zone: run it in UTC so instants and
    # wall times cross unchanged whatever the machine's zone is
    # -XX:-UsePerfData: no world-readable /tmp/hsperfdata_<user>/<pid> file holding the JVM's
    # arguments (a kill -9 leaves it behind)
    options = ["-Duser.timezone=UTC", "-XX:-UsePerfData",
               f"-Dderby.system.home={dvt_home() / 'derby'}",
               f"-Dderby.stream.error.file={dvt_home() / 'derby.log'}",
               *class_data_sharing(cache_dir(), home)]
    if not verbose:
        options += [f"-Ddvt.log.dir={dvt_home() / 'logs'}",
                    f"-Dlog4j2.configurationFile=file:{_log4j_file()}"]
    extra = extra_java_options()
    quick = quick_jit_options(quick_jit)
    if _CHOSEN_GC.search(" ".join([*extra, theirs])):
        quick = [o for o in quick if not _CHOSEN_GC.fullmatch(o)]
    return " ".join([*options, *quick, *extra])


def quick_jit_options(short: bool) -> list[str]:
    """C1-only JIT (``-XX:TieredStopAtLevel=1``), with the serial collector and a small young
    generation (:data:`QUICK_DRIVER`), for a driver whose work is ``short``: planning and
    scheduling Python tasks, no rows through the JVM. C2 spends CPU compiling code that a short
    run never repays (measured: README "Arrow end to end"). ``DVT_QUICK_JIT=0`` never uses them,
    ``=1`` always; ``DVT_JAVA_OPTIONS`` come after them and may override them."""
    value = os.environ.get(QUICK_JIT_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise UsageError(f"{QUICK_JIT_ENV} is {value!r}; valid: 0 (never C1-only JIT), 1 "
                         "(always), or unset (when the driver only plans and schedules).",
                         hint=f"Unset it, or set {QUICK_JIT_ENV}=0 or 1.")
    return list(QUICK_DRIVER) if value == "1" or (short and value != "0") else []


def extra_java_options() -> list[str]:
    """``DVT_JAVA_OPTIONS``, split as a shell would: JVM options added after dvt's own."""
    import shlex

    raw = os.environ.get(JAVA_OPTIONS_ENV, "")
    try:
        options = shlex.split(raw)
    except ValueError as exc:
        raise UsageError(f"{JAVA_OPTIONS_ENV} cannot be split into JVM options ({exc}).",
                         hint="Quote it as a shell would, e.g. '-Xss4m -Dkey=\"a b\"'.") from exc
    wrong = [o for o in options if not o.startswith("-")]
    if wrong:
        raise UsageError(f"{JAVA_OPTIONS_ENV} holds {wrong[0]!r}, which is not a JVM option "
                         "(each starts with '-').",
                         hint="Set it to options only, e.g. DVT_JAVA_OPTIONS='-Xss4m'.")
    return options


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/dvt-connect`` (``~/.cache/dvt-connect``): machine-wide, whatever
    ``DVT_HOME`` is, so every project and test home shares one JVM archive."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "dvt-connect"


def class_data_sharing(cache: Path, home: Path | None = None) -> list[str]:
    """JVM options for a class-data-sharing archive of the classes a Spark driver loads (JDK 13+
    dynamic archive), one per Spark home (``home``, else the PySpark installation's: the class
    path) and Java version in the dvt cache: the first
    session writes it when its JVM exits, under a name of its own, which a later start renames
    into place once that process is gone; later sessions map it (a stale or foreign archive is
    ignored by the JVM, ``-Xshare:auto``). ``DVT_CDS=0`` turns it off."""
    if os.environ.get("DVT_CDS", "1") == "0":
        return []
    try:
        import pyspark

        java = find_java()
    except (ImportError, DvtError):
        return []
    if java.major < 13:
        return []
    from dvt_connect.spark_home import writer_gone

    # the archive records the JVM's class path: one per Spark home
    where = hashlib.sha256(str(home or Path(pyspark.__file__).parent).encode()).hexdigest()[:10]
    archive = cache / f"spark-{pyspark.__version__}-java{java.major}-{where}.jsa"
    quiet = "-Xlog:cds*=off"
    for partial in cache.glob(f"{archive.name}.*.partial"):
        if not writer_gone(partial) or _held_open(partial):
            continue  # its process lives, or its JVM (which outlives it) is still writing
        if archive.exists():
            partial.unlink(missing_ok=True)  # a second writer's copy: not needed
        else:
            partial.replace(archive)  # its JVM has exited: the archive is whole
    if archive.exists():
        return [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto", quiet]
    cache.mkdir(parents=True, exist_ok=True)
    return [f"-XX:ArchiveClassesAtExit={archive}.{os.getpid()}.partial", quiet]


def _held_open(path: Path) -> bool:
    """Whether any process has ``path`` open (Linux ``/proc``; elsewhere: no)."""
    target = str(path)
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == target for fd in fd_dir.iterdir()):
                return True
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return False


def get_session(spec: SessionSpec | None = None) -> SparkSession:
    """The process's one session; started from ``spec`` the first time.

    A later call with more jars than the running session has is an error (jars are fixed when
    the JVM starts), not a silent ClassNotFoundException later.
    """
    global _session, _session_spec
    spec = spec or session_spec()
    with _lock:
        if _session is not None:
            assert _session_spec is not None
            missing = set(spec.jars) - set(_session_spec.jars)
            if missing:
                raise DvtError(
                    "the running Spark session was started without jars this step needs: "
                    + ", ".join(sorted(Path(m).name for m in missing)) + ".",
                    hint="Start a new process, or build the session with every jar up front.",
                )
            absent = _extensions(spec.conf) - _extensions(_session_spec.conf)
            if absent:
                raise DvtError(
                    "the running Spark session was started without the SQL extensions this "
                    "step needs: " + ", ".join(sorted(absent)) + " (they are read only when "
                    "a session starts).",
                    hint="Start a new process, or build the session with every extension "
                         "up front.")
            return _session
        if spec.master != LOCAL_SERVER or _server_socket() is None:
            check_java()  # an attached client starts no JVM (the server's runs already)
        (Path(spec.conf.get("spark.local.dir", "/tmp"))).mkdir(parents=True, exist_ok=True)
        _session = _start(spec)
        _session_spec = spec
        return _session


def with_run_folder(spec: SessionSpec) -> SessionSpec:
    """A local master's temporary files (``spark.local.dir``, the JVM's ``java.io.tmpdir``) in
    this process's run folder under DVT_HOME (:mod:`dvt_connect.run_folders`), so a killed run's
    are recognisable; a local dir the user chose (the profile or ``SPARK_LOCAL_DIRS``) stays."""
    if not spec.master.startswith("local") or "spark.local.dir" in spec.conf \
            or os.environ.get("SPARK_LOCAL_DIRS"):
        return spec
    from dvt_connect import run_folders

    folder = run_folders.claim()
    conf = dict(spec.conf, **{"spark.local.dir": str(folder)})
    options = conf.get("spark.driver.extraJavaOptions", "")
    if "-Djava.io.tmpdir=" not in options:
        conf["spark.driver.extraJavaOptions"] = f"{options} -Djava.io.tmpdir={folder}".strip()
    return replace(spec, conf=conf)


def _server_socket() -> Any:
    """The running local server, if clients can attach to it (an older server, started without
    an attach socket, is reached over Spark Connect); None otherwise."""
    from dvt_connect.connect_server import read_state

    state = read_state()
    return state if state is not None and state.socket else None


def _extensions(conf: Mapping[str, str]) -> set[str]:
    return {e.strip() for e in conf.get("spark.sql.extensions", "").split(",") if e.strip()}


def _start(spec: SessionSpec) -> SparkSession:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from dvt_connect.paths import dvt_home

    (dvt_home() / "derby").mkdir(parents=True, exist_ok=True)
    # Python workers (the bulk paths' data source, UDFs) must import dvt_connect: on a local
    # master they run this interpreter, whatever PYSPARK_PYTHON says (a Spark user's shell often
    # points it at another Python); a cluster's workers keep what the cluster configures
    if spec.master.startswith("local"):
        os.environ["PYSPARK_PYTHON"] = sys.executable
    else:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if spec.master == LOCAL_SERVER and (state := _server_socket()) is not None:
        from dvt_connect import attach

        _numpy_converters_ask_numpy_first()
        return attach.attach(state)
    if spec.kind == "connect":
        return _start_connect(spec)
    spec = with_run_folder(spec)
    if spec.home and SparkContext._gateway is None:  # the JVM about to start runs from it
        os.environ["SPARK_HOME"] = spec.home
    _numpy_converters_ask_numpy_first()
    builder: Any = SparkSession.builder.master(spec.master).appName(spec.app_name)
    for key, value in spec.all_conf().items():
        builder = builder.config(key, value)
    warm = bool(spec.warm_workers) and spec.kind == "local"
    if warm and SparkContext._gateway is None:
        _start_zygote(spec)
    try:
        # PySpark's own SIGINT handler calls the JVM from inside the handler: keep ours
        with interrupts.keep_handlers():
            if "-Ddvt.log.dir=" in spec.conf.get("spark.driver.extraJavaOptions", ""):
                _launch_quiet_gateway(spec)
            if warm:
                _start_workers_first(spec)
            session = builder.getOrCreate()
    except Exception as exc:  # PySpark raises its own runtime errors for a failed JVM launch
        _stop_zygote()
        raise DvtError(
            f"Spark could not start ({type(exc).__name__}: "
            f"{(str(exc).splitlines() or [''])[0]}).",
            hint="Run with --debug for details; `dvt debug` checks Java and Spark.",
        ) from exc
    finally:
        from dvt_connect.spark_zygote import ADDRESS_ENV

        os.environ.pop(ADDRESS_ENV, None)  # the JVM has it: no later process is given it
    session.sparkContext.setLogLevel("ERROR")
    _apply_runtime_conf(session, spec)
    if spec.kind == "cluster":
        from dvt_connect.executors import ship_package

        ship_package(session, dvt_home() / "cache")
    return session


def _start_zygote(spec: SessionSpec) -> None:
    """Start the zygote of the local Python daemon (:mod:`dvt_connect.spark_zygote`) and give
    the JVM about to start its address (in its environment, which the daemon module inherits)."""
    global _zygote
    from dvt_connect import spark_zygote

    prefix = "spark.executorEnv."
    executor_env = {k[len(prefix):]: v for k, v in spec.all_conf().items()
                    if k.startswith(prefix)}
    _stop_zygote()
    from dvt_connect.spark_daemon import preload_modules

    _zygote = spark_zygote.start([*preload_modules([]), *spec.warm_workers], executor_env)
    if _zygote is not None:
        os.environ[spark_zygote.ADDRESS_ENV] = _zygote.address


def _stop_zygote() -> None:
    global _zygote
    if _zygote is not None:
        _zygote.close()
        _zygote = None


def _start_workers_first(spec: SessionSpec) -> None:
    """Create the context the builder would (the same settings) and start its Python workers
    on it, so that they start while the SparkSession is built (0.6 s here) and the driver plans;
    the builder then finds the context running. Measured, 1M rows PostgreSQL -> Parquet: the
    move began 0.25-0.3 s sooner (the workers were ready before planning ended, not 0.3-0.45 s
    after)."""
    global _worker_start
    from pyspark import SparkConf, SparkContext

    from dvt_connect.executors import WorkerStart

    conf = SparkConf().setMaster(spec.master).setAppName(spec.app_name)
    conf.setAll(list(spec.all_conf().items()))
    context = SparkContext.getOrCreate(conf)
    _worker_start = WorkerStart(context, spec.warm_workers,
                                slots=max(1, int(context.defaultParallelism)))


def take_worker_start() -> WorkerStart | None:
    """The workers' start the session began with (:attr:`SessionSpec.warm_workers`), once: the
    caller joins it before its tasks run; None if none was begun (or it was taken)."""
    global _worker_start
    with _lock:
        start, _worker_start = _worker_start, None
    return start


class _NumpyFirst:
    """A py4j input converter of PySpark's for numpy values, asked only about numpy objects.
    PySpark's own ``can_convert`` imports ``pyspark.testing.utils`` to learn whether numpy is
    installed, and that module imports pandas: on the driver's first JVM call with arguments,
    0.26 s and 84 MiB here, in a process that never passes numpy to the JVM."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def can_convert(self, obj: Any) -> bool:
        return type(obj).__module__.split(".")[0] == "numpy" and bool(self.inner.can_convert(obj))

    def convert(self, obj: Any, gateway_client: Any) -> Any:
        return self.inner.convert(obj, gateway_client)


def _numpy_converters_ask_numpy_first() -> None:
    import py4j.protocol
    import pyspark.sql.types  # noqa: F401 - registers its converters

    converters = py4j.protocol.INPUT_CONVERTER
    for i, converter in enumerate(converters):
        if type(converter).__name__ in ("NumpyArrayConverter", "NumpyScalarConverter"):
            converters[i] = _NumpyFirst(converter)


def _apply_runtime_conf(session: SparkSession, spec: SessionSpec) -> None:
    """Secret-named settings of the profile, on the running context rather than the JVM's
    command line: ``spark.hadoop.*`` on its Hadoop configuration, the rest as session conf."""
    hadoop = None
    for key, value in spec.runtime_conf().items():
        if key.startswith("spark.hadoop."):
            hadoop = hadoop or session.sparkContext._jsc.hadoopConfiguration()
            hadoop.set(key[len("spark.hadoop."):], value)
            continue
        try:
            session.conf.set(key, value)
        except Exception as exc:  # Spark refuses static settings at runtime
            raise DvtError(
                f"the profile's spark.conf `{key}` holds a secret, which dvt sets only once "
                f"Spark runs, and Spark cannot change it then ({type(exc).__name__}).",
                hint="Put it in the cluster's spark-defaults.conf instead of profiles.yml.",
            ) from None


def _start_connect(spec: SessionSpec) -> SparkSession:
    """A Spark Connect session: jars and Spark settings are the server's, not ours."""
    from pyspark.sql import SparkSession

    from dvt_connect.connect_server import connect_url

    url = connect_url(spec.master)
    try:
        builder: Any = SparkSession.builder.remote(url)
        session = builder.getOrCreate()
    except Exception as exc:
        raise DvtError(
            f"could not reach the Spark Connect server {url} ({type(exc).__name__}: "
            f"{(str(exc).splitlines() or [''])[0]}).",
            hint="Check it runs (`dvt server status` for the local one) and that "
                 '`pip install "dvt-connect[connect]"` installed the Connect client.',
        ) from exc
    # released when the process ends: the server keeps an unreleased session (its state and
    # artifacts) until its idle timeout
    atexit.register(_release_connect, session)
    if not on_loopback(spec.master):
        # a server elsewhere: its Python workers get our package as an artifact of the session
        from dvt_connect.executors import ship_package
        from dvt_connect.paths import dvt_home

        ship_package(session, dvt_home() / "cache")
    return session


def _release_connect(session: Any) -> None:
    # best effort at exit (the server times the session out anyway); the server keeps running
    with contextlib.suppress(Exception):
        session.stop()


def _launch_quiet_gateway(spec: SessionSpec) -> None:
    """Start the JVM with its stdout and stderr in ``$DVT_HOME/logs/jvm.log``: what the JVM and
    the Python workers it forks print there (JVM warnings, a worker's traceback when a task is
    cancelled) is not the user's message, which the CLI prints as one line. ``--debug`` leaves
    them on the terminal."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    from dvt_connect.paths import dvt_home

    if SparkContext._gateway is not None:  # a JVM runs already (a stopped session's)
        return
    conf = SparkConf(loadDefaults=False).setMaster(spec.master).setAppName(spec.app_name)
    conf.setAll(list(spec.all_conf().items()))
    logs = dvt_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "jvm.log", "ab") as out:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": out})
    SparkContext._ensure_initialized(gateway=gateway, conf=conf)


def active_session() -> SparkSession | None:
    return _session


def is_connect(spark: Any) -> bool:
    """A Spark Connect session: its client has no JVM and no ``SparkContext``."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def shares_server(spark: Any) -> bool:
    """A session in a server that other commands use too: Spark Connect, or attached to the
    warm local server (:mod:`dvt_connect.attach`). Nothing of one command goes on the server's
    context (bucket credentials, settings beyond the session's)."""
    from dvt_connect.attach import is_attached

    return is_connect(spark) or is_attached(spark)


def jvm_gateway(spark: Any) -> tuple[Any, Any]:
    """The JVM (and its py4j gateway) that dvt's own JDBC calls run in: the driver's on a local
    or classic master; on Spark Connect a small client JVM with the session's jars
    (:mod:`dvt_connect.client_jvm`)."""
    if not is_connect(spark):
        return spark._jvm, spark.sparkContext._gateway
    from dvt_connect import client_jvm

    jars = _session_spec.jars if _session_spec is not None else ()
    gateway = client_jvm.gateway(jars)
    return gateway.jvm, gateway


def name_resolver(spark: Any) -> Any:
    """The JVM function a classic session's analysis matches column names with (Spark's
    ``SQLConf.resolver``: case-sensitive where ``spark.sql.caseSensitive`` is true), taken from
    the session's SQL settings (its ``RuntimeConfig``'s ``SQLConf``, the one its SQL state is
    built with, run-time changes included) without building that state (catalog, analyzer,
    built-in function registry: 0.6-0.7 s of a cold driver measured on the 2-core bench
    machine, which the Arrow route, whose tasks need no DataFrame, never needs). A Spark
    without that accessor: the state's own."""
    from py4j.protocol import Py4JError

    jsession = spark._jsparkSession
    try:
        return jsession.conf().sqlConf().resolver()
    except Py4JError:
        return jsession.sessionState().conf().resolver()


def apply_connect_conf(spark: Any, conf: Mapping[str, str]) -> list[str]:
    """Set the profile's ``spark.conf`` on a Spark Connect session, as written: the runtime
    settings (SQL settings, anything the server lets a session change) apply; the server
    refuses static and JVM settings (``spark.driver.memory``, ``spark.jars``,
    ``spark.executor.*``, ``spark.sql.extensions``), fixed when it started. Returns the keys it
    refused. The values travel over gRPC, never on a command line."""
    refused = []
    for key, value in conf.items():
        try:
            spark.conf.set(key, value)
        except Exception:  # noqa: BLE001 - CANNOT_MODIFY_(STATIC_)CONFIG, whatever its class
            refused.append(key)
    return refused


def connect_server_url(spark: Any) -> str | None:
    """The ``sc://`` address of a Spark Connect session's server (None: not Connect)."""
    if not is_connect(spark):
        return None
    from dvt_connect.connect_server import connect_url

    master = _session_spec.master if _session_spec is not None else ""
    try:
        return connect_url(master) if master else "(unknown address)"
    except DvtError:  # the local server has gone since the session started
        return master


def master_of(spark: Any) -> str:
    """The master the session's tasks run on (a Connect server's own, e.g. ``local[*]``)."""
    if is_connect(spark):
        return str(spark.conf.get("spark.master", "") or "")
    return str(spark.sparkContext.master or "")


def session_kind(spark: Any, spec: SessionSpec) -> str:
    """What ``spec`` started, as shown: ``attached`` (a session in the warm local server's JVM)
    or the master's kind (:func:`master_kind`)."""
    from dvt_connect import attach

    return "attached" if attach.is_attached(spark) else spec.kind


def session_master_kind(spark: Any) -> str:
    """:func:`master_kind` of a running session: ``connect`` for a Spark Connect client, else
    that of the master its tasks run on."""
    return "connect" if is_connect(spark) else master_kind(master_of(spark))


def runs_here(spark: Any) -> bool:
    """The session's tasks run on this machine, so its local paths are theirs: a local master,
    or a Spark Connect server on loopback that runs a local master."""
    if not master_of(spark).startswith("local"):
        return False
    if not is_connect(spark):
        return True
    return on_loopback(_session_spec.master if _session_spec is not None else "")


def on_loopback(master: str) -> bool:
    """A Spark Connect master on this machine: the warm local server, or ``sc://`` to loopback."""
    if master == LOCAL_SERVER:
        return True
    host = re.sub(r"^sc://", "", master).split("/", 1)[0].split(";", 1)[0].rsplit(":", 1)[0]
    return host.strip("[]") in ("localhost", "127.0.0.1", "::1")


def default_parallelism(spark: Any) -> int:
    """How many tasks the session runs at once (Connect: the server's setting, else its local
    master's core count when it runs here)."""
    if not is_connect(spark):
        return max(1, int(spark.sparkContext.defaultParallelism))
    configured = spark.conf.get("spark.default.parallelism", None)
    if configured:
        return max(1, int(configured))
    match = re.fullmatch(r"local\[(\*|\d+)(,\d+)?\]", master_of(spark))
    if match and match.group(1) != "*":
        return max(1, int(match.group(1)))
    return max(1, os.cpu_count() or 1) if runs_here(spark) else 2


def stop_session() -> None:
    global _session, _session_spec, _worker_start
    from dvt_connect import attach

    with _lock:
        if _session is not None:
            if attach.is_attached(_session):
                attach.detach()  # the server's context goes on
            else:
                _session.stop()
        _session, _session_spec, _worker_start = None, None, None
        _stop_zygote()
    from dvt_connect import client_jvm

    client_jvm.stop()
