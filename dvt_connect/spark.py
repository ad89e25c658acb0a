"""The one Spark session builder every command and test uses.

Plan, then execute: :func:`session_spec` is pure (master, conf, jars) and :func:`get_session`
starts the JVM once per process. Java is checked before PySpark tries, so a missing or old Java is
one clear error, not a Py4J trace.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_connect import interrupts
from dvt_connect.errors import DvtError, JavaError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark 4 runs on Java 17 and 21.
MIN_JAVA = 17
DEFAULT_MASTER = "local[*]"

_lock = threading.Lock()
_session: SparkSession | None = None
_session_spec: SessionSpec | None = None


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
    try:
        out = subprocess.run([candidate, "-version"], capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaError(f"could not run {candidate} -version: {exc}.") from None
    text = out.stderr + out.stdout
    match = re.search(r'version "([^"]+)"', text)
    if not match:
        raise JavaError(f"could not read the Java version from `{candidate} -version`.")
    version = match.group(1)
    parts = version.split(".")
    major = int(parts[1]) if parts[0] == "1" else int(re.sub(r"\D.*", "", parts[0]) or 0)
    return JavaInfo(path=str(Path(candidate).resolve()), version=version, major=major)


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
class SessionSpec:
    """Everything a session is started with: pure data, easy to test and to print."""

    master: str = DEFAULT_MASTER
    app_name: str = "dvt-connect"
    jars: tuple[str, ...] = ()
    conf: Mapping[str, str] = field(default_factory=dict)

    def all_conf(self) -> dict[str, str]:
        conf = dict(self.conf)
        if self.jars:
            conf["spark.jars"] = ",".join(self.jars)
        return conf


def session_spec(
    *,
    master: str | None = None,
    jars: Iterable[str | Path] = (),
    hadoop_conf: Mapping[str, str] | None = None,
    conf: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> SessionSpec:
    """Build the spec: our defaults, then the profile's ``spark.conf``, then ``hadoop_conf``.

    Everything here reaches the JVM's command line: never pass a secret. Bucket credentials go
    to the running context (:mod:`dvt_connect.transfer.credentials`)."""
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
        "spark.driver.extraJavaOptions": _java_options(verbose),
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }
    merged.update(conf or {})
    merged.update(hadoop_conf or {})
    return SessionSpec(
        master=master or DEFAULT_MASTER,
        jars=tuple(str(Path(j)) for j in jars),
        conf=merged,
    )


def _java_options(verbose: bool) -> str:
    from dvt_connect.paths import dvt_home

    # JDBC drivers convert timestamps through the JVM's zone: run it in UTC so instants and
    # wall times cross unchanged whatever the machine's zone is
    # -XX:-UsePerfData: no world-readable /tmp/hsperfdata_<user>/<pid> file holding the JVM's
    # arguments (a kill -9 leaves it behind)
    options = ["-Duser.timezone=UTC", "-XX:-UsePerfData",
               f"-Dderby.system.home={dvt_home() / 'derby'}",
               f"-Dderby.stream.error.file={dvt_home() / 'derby.log'}"]
    if not verbose:
        options += [f"-Ddvt.log.dir={dvt_home() / 'logs'}",
                    f"-Dlog4j2.configurationFile=file:{_log4j_file()}"]
    return " ".join(options)


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
        check_java()
        (Path(spec.conf.get("spark.local.dir", "/tmp"))).mkdir(parents=True, exist_ok=True)
        _session = _start(spec)
        _session_spec = spec
        return _session


def _extensions(conf: Mapping[str, str]) -> set[str]:
    return {e.strip() for e in conf.get("spark.sql.extensions", "").split(",") if e.strip()}


def _start(spec: SessionSpec) -> SparkSession:
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
    builder: Any = SparkSession.builder.master(spec.master).appName(spec.app_name)
    for key, value in spec.all_conf().items():
        builder = builder.config(key, value)
    try:
        # PySpark's own SIGINT handler calls the JVM from inside the handler: keep ours
        with interrupts.keep_handlers():
            if "-Ddvt.log.dir=" in spec.conf.get("spark.driver.extraJavaOptions", ""):
                _launch_quiet_gateway(spec)
            session = builder.getOrCreate()
    except Exception as exc:  # PySpark raises its own runtime errors for a failed JVM launch
        raise DvtError(
            f"Spark could not start ({type(exc).__name__}: "
            f"{(str(exc).splitlines() or [''])[0]}).",
            hint="Run with --debug for details; `dvt debug` checks Java and Spark.",
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


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


def stop_session() -> None:
    global _session, _session_spec
    with _lock:
        if _session is not None:
            _session.stop()
        _session, _session_spec = None, None
