"""Shared fixtures: one real local Spark session per run, real PostgreSQL and MariaDB.

Service-backed tests never skip: a missing service fails loudly, because CI must run them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dvt_connect import secrets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import dvt_services  # noqa: E402  (the one place that says where the test servers are)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _own_databases_per_worker() -> None:
    """Under pytest-xdist (`make test` runs two workers) each worker gets databases of its own
    (``test_gw0``, ``test_gw1`` on the same servers), set in DVT_TEST_PG / DVT_TEST_MARIADB before
    anything reads them, so tests in parallel never share a table and the `dvt` processes they
    start inherit the same addresses. A server that is down is left for `_require` to report."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    for kind, address in dvt_services.addresses().items():
        if address.database.endswith(f"_{worker}"):
            continue  # set already (this file imported a second time)
        mine = dataclasses.replace(address, database=f"{address.database}_{worker}")
        os.environ[dvt_services.SERVERS[kind].env] = mine.url()
        if _reachable(mine.host, mine.port):
            dvt_services.provision(mine)


_own_databases_per_worker()
# The `dvt` processes tests start are short: C1-only JIT (`dvt`'s DVT_JAVA_OPTIONS, which they
# inherit) costs a small `dvt transfer` about 17 CPU seconds instead of 28, and the suite is
# CPU-bound on 2 cores. The long-lived sessions (the worker's `spark`, the lakehouse scenario)
# keep the JVM's default, which repays itself there. `DVT_JAVA_OPTIONS= make test`: the default.
os.environ.setdefault("DVT_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1")
_SERVERS = dvt_services.addresses()
# Where the test servers are: DVT_TEST_PG / DVT_TEST_MARIADB, else `make services`' loopback ones.
PG: dict[str, object] = _SERVERS["postgres"].as_dict()
MARIADB: dict[str, object] = _SERVERS["mariadb"].as_dict()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own DVT_HOME; nothing reads the real ~/.dvt."""
    home = tmp_path / "dvt-home"
    monkeypatch.setenv("DVT_HOME", str(home))
    for var in ("DVT_PROFILES_DIR", "DBT_PROFILES_DIR", "DVT_PROFILE", "DVT_MAVEN_REPOSITORIES"):
        monkeypatch.delenv(var, raising=False)
    yield home
    secrets.clear()


@pytest.fixture
def run_probe(tmp_path: Path) -> Callable[..., Any]:
    """Run Python source in a fresh interpreter (a session of its own: a cold JVM, nothing of
    this run's) with ``tmp_path`` as its dvt home; returns what it printed last, as JSON.
    Further arguments go to its ``sys.argv``."""
    def run(source: str, *args: str) -> Any:
        done = subprocess.run([sys.executable, "-c", source, *args],
                              env={**os.environ, "DVT_HOME": str(tmp_path)},
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.splitlines()[-1])

    return run


@pytest.fixture(scope="session")
def spark_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark-home")


@pytest.fixture(scope="session")
def spark(spark_home: Path):  # type: ignore[no-untyped-def]
    """The one local Spark session of the run, with the JDBC drivers Debian installs."""
    from dvt_connect import spark as spark_mod

    old_home = os.environ.get("DVT_HOME")
    os.environ["DVT_HOME"] = str(spark_home)
    java_options = os.environ.pop("DVT_JAVA_OPTIONS", None)  # long-lived: the default JIT
    try:
        jars = [str(p) for p in debian_jdbc_jars()]
        spec = spark_mod.session_spec(
            master="local[2]",
            jars=jars,
            conf={"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "4"},
        )
        session = spark_mod.get_session(spec)
    finally:
        if old_home is None:
            os.environ.pop("DVT_HOME", None)
        else:
            os.environ["DVT_HOME"] = old_home
        if java_options is not None:
            os.environ["DVT_JAVA_OPTIONS"] = java_options
    yield session
    spark_mod.stop_session()


def debian_jdbc_jars() -> list[Path]:
    """PostgreSQL and MariaDB JDBC drivers from Debian's packages (`make setup` installs them)."""
    found = []
    for pattern in ("org/postgresql/postgresql/[0-9]*/postgresql-*.jar",
                    "org/mariadb/jdbc/mariadb-java-client/[0-9]*/mariadb-java-client-*.jar"):
        matches = sorted(Path("/usr/share/maven-repo").glob(pattern))
        if not matches:
            pytest.fail(f"missing /usr/share/maven-repo/{pattern}: run `make setup` "
                        "(installs libpostgresql-jdbc-java and libmariadb-java)")
        found.append(matches[-1])
    return found


def _require(kind: str) -> dict[str, object]:
    addr = _SERVERS[kind]
    if not _reachable(addr.host, addr.port):
        spec = dvt_services.SERVERS[kind]
        pytest.fail(f"{addr.label} is not reachable (integration tests need it): run "
                    f"`make services`, or point {spec.env} at a server")
    return addr.as_dict()


@pytest.fixture(scope="session")
def pg() -> dict[str, object]:
    server = _require("postgres")
    _fetch_reader_library("postgres")
    return server


def _fetch_reader_library(kind: str) -> None:
    """The reader library `dvt sync` fetches for this database (into the machine's dvt cache,
    where every test home finds it), so the native reads under test are the ones users run."""
    from dvt_connect.databases import database
    from dvt_connect.errors import DvtError
    from dvt_connect.reader_libraries import fetch

    native = database(kind).native
    if native is None or native.reader_library is None:
        return
    try:
        fetch(native.reader_library)
    except DvtError as exc:
        pytest.fail(f"the {kind} reader library could not be fetched: {exc}")


@pytest.fixture(scope="session")
def mariadb() -> dict[str, object]:
    return _require("mariadb")


@pytest.fixture(scope="session")
def maven_cache() -> Iterator[Path]:
    """The folder the `maven` tests share between runs (``DVT_TEST_MAVEN_CACHE``, else
    ``~/.cache/dvt-test-maven``): synced jars, POMs and metadata, and Maven's own local
    repository. Held under an exclusive lock for the session, since other checkouts on the same
    machine may run the same tests at the same time."""
    import fcntl

    root = Path(os.environ.get("DVT_TEST_MAVEN_CACHE")
                or Path.home() / ".cache" / "dvt-test-maven").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@functools.cache
def _file_uses_maven_cache(root: Path, path: str) -> bool:
    """A test file that takes `maven_cache`, itself or through its folder's conftest.py (not
    this one, which defines it)."""
    here = root / path
    return any("maven_cache" in f.read_text(encoding="utf-8")
               for f in (here, here.parent / "conftest.py")
               if f.is_file() and f.resolve() != Path(__file__).resolve())


# Seconds each test file took in a recorded run (setup, call and teardown summed), which the
# scheduler below reads to start the longest files first. Refresh it with
# `DVT_TEST_DURATIONS_OUT=tests/durations.json make test`; a file missing from it counts
# _UNKNOWN_TEST_SECONDS per test.
DURATIONS = Path(__file__).with_name("durations.json")
_UNKNOWN_TEST_SECONDS = 2.0
_file_seconds: dict[str, float] = {}


def _recorded_durations() -> dict[str, float]:
    import json

    if not DURATIONS.is_file():
        return {}
    return {str(k): float(v) for k, v in json.loads(DURATIONS.read_text(encoding="utf-8")).items()}


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test`'s workers: a test file runs in one worker (its module fixtures start once),
    and every file using the shared Maven cache runs in one worker, since `maven_cache` holds
    the cache's lock for the worker's whole session (the other worker would wait for it). A
    free worker takes the unit with the most recorded seconds left (tests/durations.json), so
    the long files do not end up last on one worker while the others stand idle. (xdist's own
    `loadgroup` cannot group like this on pytest 9.2, whose node ids it can no longer rename;
    its `loadfile` orders by the number of tests, not their time.)"""
    from xdist.scheduler import LoadScopeScheduling

    root = Path(str(config.rootpath))
    recorded = _recorded_durations()

    def cost(work_unit: dict[str, bool]) -> float:
        files: dict[str, int] = {}
        for nodeid in work_unit:
            path = nodeid.split("::", 1)[0]
            files[path] = files.get(path, 0) + 1
        return sum(recorded.get(path, _UNKNOWN_TEST_SECONDS * n) for path, n in files.items())

    class LongestFileOrMavenCacheFirst(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "maven-cache" if _file_uses_maven_cache(root, path) else path

        def _assign_work_unit(self, node: Any) -> None:
            longest = max(self.workqueue, key=lambda scope: cost(self.workqueue[scope]))
            self.workqueue.move_to_end(longest, last=False)
            super()._assign_work_unit(node)

    return LongestFileOrMavenCacheFirst(config, log)


INTEGRATION_MARKERS = ("spark", "postgres", "mariadb", "network", "maven", "faults", "cluster",
                       "pypi")
_skipped_integration: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    _file_seconds[path] = _file_seconds.get(path, 0.0) + report.duration
    if report.skipped and any(m in report.keywords for m in INTEGRATION_MARKERS):
        _skipped_integration.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (DVT_REQUIRE_INTEGRATION=1) a skipped integration test fails the run. With
    DVT_TEST_DURATIONS_OUT set, the run's seconds per test file are merged into that file (in
    the controlling process only, which sees every worker's reports)."""
    out = os.environ.get("DVT_TEST_DURATIONS_OUT")
    if out and not hasattr(session.config, "workerinput") and _file_seconds:
        import json

        path = Path(out)
        merged = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        merged.update({k: round(v, 1) for k, v in _file_seconds.items()})
        path.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n",
                        encoding="utf-8")
    if os.environ.get("DVT_REQUIRE_INTEGRATION") and _skipped_integration:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "FAIL: integration tests were skipped in CI: " + ", ".join(_skipped_integration),
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# CPU-seconds per test, for finding what to make lighter: with DVT_TEST_CPU_OUT=<file>, each test
# appends one JSON line {"test", "cpu", "wall"} to it. A thread samples this process's tree every
# half second (each `dvt` a test runs, its JVM, which outlives its parent's wait, the worker's
# Spark JVM and Python workers) and keeps each process's last CPU time; a test's CPU is what its
# processes gained while it ran. Servers that detach from the tree are not counted, nor the last
# half second of a process that ends.
class _TreeCpu:
    def __init__(self) -> None:
        import threading

        self.seen: dict[tuple[int, str], float] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._loop, daemon=True, name="dvt-test-cpu").start()

    def _loop(self) -> None:
        import time

        while True:
            self.sample()
            time.sleep(0.5)

    def sample(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        parents: dict[int, int] = {}
        stats: dict[int, tuple[str, float]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            stats[int(entry)] = (fields[19], (int(fields[11]) + int(fields[12])) / tick)
        mine = {os.getpid()}
        grew = True
        while grew:
            grew = False
            for pid, ppid in parents.items():
                if ppid in mine and pid not in mine:
                    mine.add(pid)
                    grew = True
        with self.lock:
            for pid in mine:
                start, cpu = stats[pid]
                self.seen[(pid, start)] = cpu

    def snapshot(self) -> dict[tuple[int, str], float]:
        self.sample()
        with self.lock:
            return dict(self.seen)


_tree_cpu: _TreeCpu | None = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _tree_cpu
    out = os.environ.get("DVT_TEST_CPU_OUT")
    if not out:
        yield
        return
    import json
    import time

    if _tree_cpu is None:
        _tree_cpu = _TreeCpu()
    before, wall = _tree_cpu.snapshot(), time.monotonic()
    yield
    after = _tree_cpu.snapshot()
    cpu = sum(v - before.get(k, 0.0) for k, v in after.items())
    line = json.dumps({"test": item.nodeid, "cpu": round(cpu, 1),
                       "wall": round(time.monotonic() - wall, 1)})
    with open(out, "a", encoding="utf-8") as sink:
        sink.write(line + "\n")
