"""`dvt debug`'s work: check the environment, the config files, the buckets and every output.

:func:`gather` returns a :class:`Report` (plain data); the CLI draws it
(:mod:`dvt_connect.cli.debug_view`) as tables or as one JSON document. Nothing here prints.
The connector shown for each output comes from
:func:`dvt_connect.connectors.selection.choose_connector`, the code `dvt transfer` runs.

The live check opens a TCP socket (or looks at a path); it never logs in, and says so.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_connect import __version__
from dvt_connect.config.buckets import Bucket, LocalBucket
from dvt_connect.config.profiles import Connection
from dvt_connect.config.project import Project, load_project
from dvt_connect.errors import ConfigError, DvtError, UsageError
from dvt_connect.paths import ConfigPaths, find_config_dir, jars_dir

if TYPE_CHECKING:
    from dvt_connect.connectors.selection import Choice
    from dvt_connect.databases.spec import NativeFacts
    from dvt_connect.jars.manifest import Manifest
    from dvt_connect.jars.spark_versions import SparkInstall

OK, WARN, ERROR, SKIP = "ok", "warn", "error", "skipped"
DEFAULT_TIMEOUT = 3.0
_URL_HOST = re.compile(r"//(?:[^/@;?]*@)?(\[[^\]]+\]|[^/:;?]+)(?::(\d+))?")


# -- the report ---------------------------------------------------------------------------------
@dataclass
class EnvCheck:
    name: str
    value: str
    status: str = OK
    detail: str = ""


@dataclass
class FileCheck:
    name: str
    path: str
    found: bool
    valid: bool | None  # None: not checked
    status: str = OK
    detail: str = ""


@dataclass
class Reach:
    """What a live check looked at and what it found: a socket opened, a folder present. It
    never logs in, so it never claims a login worked."""

    check: str  # "TCP db.internal:5432", "folder /data/lake"
    ok: bool | None  # None: not checked
    result: str = ""
    latency_ms: float | None = None

    def describe(self) -> str:
        return f"{self.check}: {self.result}"


@dataclass
class BucketRow:
    name: str
    type: str = ""
    location: str = ""
    spark_path: str = ""
    credentials: str = ""
    default: bool = False
    status: str = OK
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    reach: Reach | None = None
    jars: JarStatus | None = None  # the Hadoop filesystem jars this bucket type needs


@dataclass
class JarStatus:
    needs: list[str] = field(default_factory=list)  # need keys, as `dvt sync` records them
    coordinates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # need keys whose jars are not all here
    present: bool | None = None  # None: could not be told
    notes: list[str] = field(default_factory=list)  # advice (where a driver comes from)
    problems: list[str] = field(default_factory=list)  # e.g. no connector release for this Spark


@dataclass
class ConnectionRow:
    name: str
    type: str = ""
    location: str = ""
    is_target: bool = False
    connector: str = ""
    reason: str = ""
    bucket: str | None = None
    jars: JarStatus = field(default_factory=JarStatus)
    reach: Reach | None = None
    status: str = OK
    notes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Report:
    environment: list[EnvCheck] = field(default_factory=list)
    directory: str = ""
    chosen_by: str = ""
    profile: str | None = None
    target: str | None = None
    files: list[FileCheck] = field(default_factory=list)
    buckets: list[BucketRow] = field(default_factory=list)
    connections: list[ConnectionRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    connect: bool = True
    sections: tuple[str, ...] = ("environment", "configuration", "buckets", "connections")
    config_errors: list[str] = field(default_factory=list)
    # what killed runs left (a `transfer.leftovers.Scan`'s description), when looked for
    leftovers: dict[str, Any] | None = None

    def _statuses(self) -> list[str]:
        rows: list[Any] = [*self.environment, *self.files, *self.buckets, *self.connections]
        return [r.status for r in rows]

    @property
    def errors(self) -> int:
        return self._statuses().count(ERROR)

    @property
    def warning_count(self) -> int:
        return self._statuses().count(WARN) + len(self.warnings)

    @property
    def exit_code(self) -> int:
        """0 when nothing is broken; 2 when the configuration is invalid (bad input, as for
        every command); 1 when something else is broken (Java, a server not reachable)."""
        if self.config_errors:
            return 2
        return 1 if self.errors else 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def summary(self) -> str:
        errors, warnings = self.errors, self.warning_count
        if not errors:
            tail = f" ({_plural(warnings, 'warning')})" if warnings else ""
            checked = "" if self.connect else "; live checks skipped (--no-connect)"
            return f"All checks passed{tail}{checked}."
        parts = [_plural(errors, "error")]
        if warnings:
            parts.append(_plural(warnings, "warning"))
        if self.config_errors:
            return f"{', '.join(parts)}; configuration invalid: {self.config_errors[0]}"
        return f"{', '.join(parts)}: something is broken (see the tables above)."

    def to_dict(self) -> dict[str, Any]:
        return {
            "dvt_connect": __version__,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "environment": [asdict(e) for e in self.environment],
            "configuration": {
                "directory": self.directory,
                "chosen_by": self.chosen_by,
                "profile": self.profile,
                "target": self.target,
                "files": [asdict(f) for f in self.files],
            },
            "buckets": [asdict(b) for b in self.buckets],
            "connections": [asdict(c) for c in self.connections],
            "live_checks": self.connect,
            "warnings": list(self.warnings),
            "leftovers": self.leftovers,
        }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# -- gathering ----------------------------------------------------------------------------------
def gather(
    profiles_dir: str | Path | None = None,
    profile: str | None = None,
    target: str | None = None,
    *,
    connect: bool = True,
    connection_only: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Report:
    """Run every check and return the report. Configuration problems are recorded, not raised:
    showing all of them at once is what `dvt debug` is for."""
    if timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds, not {timeout}.")
    if connection_only and not connect:
        raise UsageError("--connection checks the connections live; drop --no-connect.")
    report = Report(connect=connect)
    if connection_only:
        report.sections = ("configuration", "connections")
    else:
        report.environment = environment_checks()

    paths = find_config_dir(profiles_dir)
    report.directory, report.chosen_by = str(paths.directory), paths.source
    project = _load(report, paths, profiles_dir, profile, target)
    if project is None:
        return report

    from dvt_connect.jars.manifest import Manifest

    if not connection_only:
        report.environment.append(_master_check(project))
    spark, manifest = spark_install(), Manifest.load(jars_dir())
    buckets = _bucket_rows(report, project)
    for row, bucket in buckets:
        row.jars = bucket_jar_status(bucket.type, spark, manifest)
        if row.jars.present is False:
            _warn(row, "filesystem jars missing from the jars folder: run `dvt sync`.")
    if not connection_only and connect:
        _run_concurrently(timeout, [(row, _check_bucket(bucket)) for row, bucket in buckets])
    _connection_rows(report, project, {b.name: b for _, b in buckets}, connect, timeout,
                     spark, manifest)
    report.warnings.extend(project.warnings)
    return report


def environment_checks() -> list[EnvCheck]:
    checks = [
        EnvCheck("dvt-connect", __version__),
        EnvCheck("Python", platform.python_version(), OK, sys.executable),
    ]
    spark = spark_install()
    if isinstance(spark, DvtError):
        checks.append(EnvCheck("PySpark", "not readable", ERROR, str(spark)))
    else:
        checks += [
            EnvCheck("PySpark / Spark", spark.spark_version, OK, f"jars in {spark.jars_dir}"),
            EnvCheck("Scala", spark.scala_binary, OK, "read from PySpark's scala-library jar"),
            EnvCheck("Hadoop", spark.hadoop_version, OK, "read from PySpark's hadoop jars"),
            _home_check(),
        ]
    checks.append(_java_check())
    folder = jars_dir()
    if folder.is_dir():
        count = sum(1 for _ in folder.glob("*.jar"))
        checks.append(EnvCheck("Jars folder", str(folder), OK, f"{_plural(count, 'jar')}"))
    else:
        checks.append(EnvCheck("Jars folder", str(folder), OK,
                               "not created yet; `dvt sync` downloads the jars into it"))
    return checks


def _master_check(project: Project) -> EnvCheck:
    """The master a command would run on, where it comes from, and the profile's Spark
    settings (secret-named values masked)."""
    from dvt_connect.secrets import masked_conf
    from dvt_connect.spark import choose_master

    try:
        choice = choose_master(None, project.spark_master, profile_name=project.profile_name)
        conf = masked_conf(project.spark_conf)
    except DvtError as exc:
        return EnvCheck("Spark master", "invalid", ERROR, str(exc))
    detail = f"{choice.kind}, from {choice.origin}"
    if conf:
        detail += "; conf " + ", ".join(f"{k}={v}" for k, v in sorted(conf.items()))
    return EnvCheck("Spark master", choice.master, OK, detail)


def _home_check() -> EnvCheck:
    """The Spark home the JVMs dvt starts run from (:mod:`dvt_connect.spark_home`)."""
    from dvt_connect.spark import cache_dir
    from dvt_connect.spark_home import LEFT_OUT, LIGHT_HOME_ENV, driver_home, package_home

    home = driver_home(cache_dir())
    if home is None:
        return EnvCheck("Spark home", os.environ.get("SPARK_HOME", ""), OK,
                        "SPARK_HOME, a Spark of yours: used as it is")
    if home == package_home():
        if not any(jar.name.startswith(LEFT_OUT) for jar in (home / "jars").glob("*.jar")):
            return EnvCheck("Spark home", str(home), OK, "PySpark's own (it has no Spark ML jars)")
        why = (f"{LIGHT_HOME_ENV}=0" if os.environ.get(LIGHT_HOME_ENV) == "0"
               else "the cache folder cannot hold dvt's own")
        return EnvCheck("Spark home", str(home), OK, f"PySpark's own, Spark ML included ({why})")
    return EnvCheck("Spark home", str(home), OK,
                    f"PySpark's jars but Spark ML's (a lighter start; {LIGHT_HOME_ENV}=0 keeps "
                    "them)")


def spark_install() -> SparkInstall | DvtError:
    """The installed PySpark's versions (or the error reading them): the one place to switch if
    the source of versions changes."""
    from dvt_connect.jars.spark_versions import installed_spark

    try:
        return installed_spark()
    except DvtError as exc:
        return exc


def _java_check() -> EnvCheck:
    from dvt_connect.spark import MIN_JAVA, check_java

    try:
        java = check_java()
    except DvtError as exc:
        return EnvCheck("Java", "missing or unusable", ERROR, str(exc))
    return EnvCheck("Java", java.version, OK, f"{java.path} (Spark needs {MIN_JAVA} or newer)")


def _load(report: Report, paths: ConfigPaths, profiles_dir: str | Path | None,
          profile: str | None, target: str | None) -> Project | None:
    """Load the profile; record each file's state. None when nothing more can be checked."""
    profiles = FileCheck("profiles.yml", str(paths.profiles), paths.profiles.exists(), None)
    buckets = FileCheck("buckets.yml", str(paths.buckets), paths.buckets.exists(), None)
    report.files = [profiles, buckets]
    try:
        project = load_project(profiles_dir, profile, target)
    except DvtError as exc:
        profiles.valid, profiles.status, profiles.detail = False, ERROR, str(exc)
        buckets.status, buckets.detail = SKIP, "not checked: profiles.yml did not load"
        _config_error(report, exc)
        return None
    report.profile, report.target = project.profile_name, project.target_name
    profiles.valid = True
    profiles.detail = (f"profile `{project.profile_name}`, target `{project.target_name}`, "
                       f"{_plural(len(project.output_names), 'output')}")
    if not buckets.found:
        buckets.detail = "not found (optional: only native connectors stage through buckets)"
    elif project.buckets_error is not None:
        buckets.valid, buckets.status = False, ERROR
        buckets.detail = str(project.buckets_error)
        _config_error(report, project.buckets_error)
    else:
        buckets.valid = True
        if project.bucket_profile is None:
            buckets.detail = (f"no buckets for profile `{project.profile_name}` (and no "
                              "`default` bucket profile)")
        else:
            target_text = (f", target `{project.bucket_target}`" if project.bucket_target
                           else "")
            buckets.detail = (f"bucket profile `{project.bucket_profile}`{target_text}, "
                              f"{_plural(len(project.raw_buckets), 'bucket')}")
    return project


def _config_error(report: Report, exc: DvtError) -> None:
    report.config_errors.append(str(exc))


# -- buckets ------------------------------------------------------------------------------------
def _bucket_rows(report: Report, project: Project) -> list[tuple[BucketRow, Bucket]]:
    if project.buckets_error is not None:
        return []
    valid: list[tuple[BucketRow, Bucket]] = []
    for name, result in project.bucket_results().items():
        row = BucketRow(name, default=name == project.bucket_target)
        report.buckets.append(row)
        if isinstance(result, DvtError):
            row.status, row.error = ERROR, str(result)
            _config_error(report, result)
            continue
        row.type = result.type
        row.location = result.warehouse_uri()
        row.spark_path = result.spark_path()
        row.credentials = result.credential_method()
        if row.credentials.startswith("ambient"):
            row.status = WARN
            row.notes.append(
                f"no credentials in buckets.yml: {row.credentials} will be used; "
                "`dvt debug` cannot tell whether they exist."
            )
        valid.append((row, result))
    return valid


def _check_bucket(bucket: Bucket) -> Any:
    if isinstance(bucket, LocalBucket):
        return lambda: check_path(bucket.local_path(), folder=True)
    return None  # cloud buckets: reaching them needs credentials and an SDK; not checked


# -- connections --------------------------------------------------------------------------------
def _connection_rows(report: Report, project: Project, buckets: Mapping[str, Bucket],
                     connect: bool, timeout: float, spark: SparkInstall | DvtError,
                     manifest: Manifest) -> None:
    from dvt_connect.connectors.selection import choose_connector
    checks: list[tuple[ConnectionRow, Any]] = []
    for name, result in project.connection_results().items():
        row = ConnectionRow(name, is_target=name == project.target_name)
        report.connections.append(row)
        if isinstance(result, DvtError):
            row.status, row.error = ERROR, str(result)
            _config_error(report, result)
            continue
        row.type, row.location = result.type, result.location()
        native = result.facts.native
        try:
            unavailable = (connector_unavailable(native, spark, manifest)
                           if native is not None and not result.is_files else None)
            choice = choose_connector(result, buckets, preferred_bucket=project.bucket_target,
                                      unavailable=unavailable)
        except DvtError as exc:
            row.status, row.error = ERROR, str(exc)
            continue
        row.connector, row.reason = choice.connector.value, choice.reason
        try:
            row.notes.extend(stage_native_notes(result, choice))
        except DvtError as exc:  # the transfer would stop here: say so, keep the rest
            _warn(row, str(exc))
        row.bucket = choice.bucket.name if choice.bucket is not None else None
        for warning in choice.warnings:
            _warn(row, warning)
        row.jars = jar_status(result, choice, spark, manifest)
        if result.is_files:
            row.notes.extend(_table_format_notes(result, row.jars))
        if result.is_files and row.jars.problems:  # no runtime of its table format runs here
            row.status, row.error = ERROR, " ".join(row.jars.problems)
        for problem in row.jars.problems if row.status != ERROR else ():
            _warn(row, problem)
        if row.jars.present is False and row.status != ERROR:
            _warn(row, "jars missing from the jars folder: run `dvt sync`.")
        row.notes.extend(row.jars.notes)
        if choice.is_native and native is not None and native.reader_library is not None:
            from dvt_connect.reader_libraries import describe

            row.notes.append(describe(native.reader_library))
        if connect:
            checks.append((row, _check_connection(result, timeout)))
    _run_concurrently(timeout, checks)


def connector_unavailable(native: NativeFacts, spark: SparkInstall | DvtError,
                          manifest: Manifest) -> str | None:
    """Why a warehouse's Spark connector cannot run here, or None when it can: no release fits
    the installed Spark, or `dvt sync` has not put its jars in the jars folder. `dvt debug` and
    `dvt transfer` both choose by this (a Python native path always can)."""
    from dvt_connect.jars.plan import native_need

    if native.is_python:
        return None
    if not isinstance(spark, DvtError):
        problem = native_need(native, spark).problem
        if problem:
            return problem.split(". ", 1)[0]  # the first sentence: which release, which Spark
    if manifest.missing_for([f"native:{native.name}"]):
        return "its Spark connector jars are not in the jars folder (run `dvt sync`)"
    return None


def stage_native_notes(connection: Connection, choice: Choice) -> list[str]:
    """For a warehouse output: the statements its stage-native path would send (credentials
    masked), or that it is the other native path, with the setting that forces it."""
    from dvt_connect.connectors.selection import NATIVE_PATH_KEY, find_bucket, module_installed
    from dvt_connect.connectors.stage_native.sql import (
        auth_clause,
        load_statement,
        unload_statement,
        warehouse_uri,
    )

    stage = connection.facts.stage
    if stage is None or connection.is_files:
        return []
    if not choice.unload:
        if choice.is_native:
            return [f"the stage-native path ({connection.facts.title}'s own unload through a "
                    f"bucket) is used instead with `{NATIVE_PATH_KEY}: unload` on the output"]
        return []
    bucket = choice.bucket or find_bucket(stage, {})
    assert bucket is not None
    uri = warehouse_uri(stage, bucket, bucket.spark_path("dvt/<run id>"))
    auth = auth_clause(stage, bucket, connection)
    notes = [f"unload: {unload_statement(stage, '<select>', uri, auth).shown}",
             f"load: {load_statement(stage, '<staging table>', uri, auth).shown}"]
    missing = [m for m in stage.python_modules if not module_installed(m)]
    if missing:
        raise ConfigError(f"the stage-native path for {connection.facts.title} needs the Python "
                          f"module(s) {', '.join(missing)}, which are not installed.",
                          hint=f'pip install "dvt-connect[{stage.python_extra}]"')
    return notes


def _table_format_notes(connection: Connection, jars: JarStatus) -> list[str]:
    """A Delta or Iceberg output: its format, catalog, runtime jar and whether it is here."""
    from dvt_connect.databases.files import TABLE_FORMATS, catalog_name
    from dvt_connect.secrets import redact_url

    fmt = TABLE_FORMATS.get(connection.format)
    if fmt is None:
        return []
    ours = [c for c in jars.coordinates if c.startswith(f"{fmt.runtime.group}:")]
    runtime = " + ".join(ours) or "no release found"  # with a catalog's packages after it
    missing = any(k == fmt.need_key or k.startswith(f"catalog:{fmt.name}-")
                  for k in jars.missing)
    here = ("missing from the jars folder" if missing
            else "present" if jars.present is not None else "not checked")
    if fmt.name == "iceberg":
        settings = dict(connection.extra.get("catalog") or {})
        kind = str(settings.get("type") or "hadoop")
        where = redact_url(str(settings.get("uri") or settings.get("warehouse")
                               or connection.path))
        catalog = f"{kind} catalog `{catalog_name(connection.name)}` at {where}"
    else:
        catalog = "tables by path (no catalog)"
    return [f"table format {fmt.name}; {catalog}; runtime {runtime} ({here})"]


def _warn(row: ConnectionRow | BucketRow, note: str) -> None:
    row.notes.append(note)
    if row.status == OK:
        row.status = WARN


def jar_status(connection: Connection, choice: Choice, spark: SparkInstall | DvtError,
               manifest: Manifest) -> JarStatus:
    """The jars this output needs for the chosen connector, and whether the jars folder has
    them (from the manifest `dvt sync` writes)."""
    from dvt_connect.databases.files import TABLE_FORMATS
    from dvt_connect.jars.plan import bucket_need, connection_needs, needs_for, runtime_refusal

    status = JarStatus(needs=list(connection_needs(connection)))
    if choice.is_native and choice.native is not None and not choice.unload:
        status.needs.append(f"native:{choice.native.name}")
    if choice.bucket is not None:
        status.needs.append(f"bucket:{choice.bucket.type}")
    if isinstance(spark, DvtError):
        status.notes.append("jars not checked: the installed PySpark could not be read.")
        return status
    try:
        used = [choice.bucket] if choice.bucket is not None else []
        needs = {n.key: n for n in needs_for([connection], used, spark)}
    except DvtError as exc:
        status.notes.append(f"jars not checked: {exc}")
        return status
    for key in status.needs:
        need = needs.get(key)
        if need is None and key.startswith("bucket:"):  # a `files` output on a bucket path
            try:
                need = bucket_need(key.partition(":")[2], spark)
            except DvtError:
                need = None
        if need is None:
            continue
        synced = manifest.needs.get(key) if key.startswith(("format:", "catalog:")) else None
        if synced:  # the runtime `dvt sync` picked from the repositories, not the offline list
            status.coordinates.extend(synced)
            fmt = TABLE_FORMATS.get(key.partition(":")[2])
            refusal = runtime_refusal(fmt, spark, synced) if fmt is not None else None
            if refusal is not None:  # synced before dvt refused builds for another minor
                status.problems.append(str(refusal))
            continue
        status.coordinates.extend(str(c) for c in need.coordinates)
        if need.problem:
            status.problems.append(need.problem)
        if need.note:
            status.notes.append(need.note)
        if need.warning:
            status.notes.append(need.warning)
    status.missing = manifest.missing_for(status.needs)
    status.present = not status.missing
    return status


def bucket_jar_status(bucket_type: str, spark: SparkInstall | DvtError,
                      manifest: Manifest) -> JarStatus:
    """The Hadoop filesystem jars a bucket type needs on Spark's class path, and whether the
    jars folder has them (a `local` bucket needs none)."""
    from dvt_connect.jars.plan import bucket_need

    key = f"bucket:{bucket_type}"
    status = JarStatus(needs=[key])
    if isinstance(spark, DvtError):
        status.notes.append("jars not checked: the installed PySpark could not be read.")
        return status
    try:
        need = bucket_need(bucket_type, spark)
    except DvtError as exc:
        status.notes.append(f"jars not checked: {exc}")
        return status
    status.coordinates = [str(c) for c in need.coordinates]
    status.missing = manifest.missing_for([key]) if need.coordinates else []
    status.present = not status.missing
    return status


def _check_connection(connection: Connection, timeout: float) -> Any:
    """The live check for one output, as a function to run in the pool (None: nothing to do)."""
    path = connection.path or ""
    if connection.is_files:
        bucket = getattr(connection, "bucket", None)
        if bucket:  # a path in a bucket of buckets.yml, not a folder here
            return lambda: Reach(f"path {path} in bucket `{bucket}`", None,
                                 "remote path: not checked")
        if "://" in path and not path.startswith("file://"):
            return lambda: Reach(f"path {path}", None, "remote path: not checked")
        return lambda: check_path(_local(path), folder=True)
    if connection.facts.url_template and "{path}" in connection.facts.url_template \
            and path and not connection.url:
        # a database in a local file (sqlite, duckdb) or folder (derby)
        return lambda: check_path(_local(path), folder=connection.facts.is_folder)
    endpoint = endpoint_of(connection)
    if isinstance(endpoint, str):
        return lambda: Reach("TCP", None, endpoint)
    host, port = endpoint
    return lambda: check_tcp(host, port, timeout)


def _local(path: str) -> Path:
    return Path(path.removeprefix("file://")).expanduser()


def endpoint_of(connection: Connection) -> tuple[str, int] | str:
    """(host, port) to open a socket to, or why it cannot be told."""
    fixed = connection.facts.endpoint
    if fixed is not None and fixed.host and fixed.port and not connection.url:
        return fixed.host, fixed.port
    try:
        url = connection.jdbc_url()
    except DvtError:
        url = ""
    match = _URL_HOST.search(url)
    host = connection.host or (match.group(1).strip("[]") if match else None)
    if not host:
        return "not checked: no host in the output or its URL"
    port: int | None = None
    if match and match.group(2):
        port = int(match.group(2))
    port = port or connection.port or connection.facts.default_port
    if port is None and fixed is not None:
        port = fixed.port
    if port is None:
        return "not checked: no port in the output or its URL"
    return host, port


def check_tcp(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> Reach:
    """Open (and close) a TCP connection; the latency is the connect alone, after DNS."""
    check = f"TCP {host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return Reach(check, False, f"cannot resolve `{host}` ({exc})")
    failure = "no address"
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        started = time.perf_counter()
        try:
            sock.connect(address)
        except TimeoutError:
            failure = f"no answer within {timeout:g} s"
            continue
        except OSError as exc:
            failure = (exc.strerror or str(exc)).lower()
            continue
        finally:
            sock.close()
        latency = (time.perf_counter() - started) * 1000
        return Reach(check, True, f"open in {_ms(latency)}", round(latency, 3))
    return Reach(check, False, failure)


def _ms(latency: float) -> str:
    return f"{latency:.1f} ms" if latency < 100 else f"{latency:,.0f} ms"


def check_path(path: Path, *, folder: bool) -> Reach:
    """A local path: present (and writable), or creatable under a writable parent."""
    check = f"{'folder' if folder else 'file'} {path}"
    if path.exists():
        if folder and not path.is_dir():
            return Reach(check, False, "exists but is not a folder")
        if not folder and path.is_dir():
            return Reach(check, False, "is a folder, not a file")
        writable = os.access(path if path.is_dir() else path.parent, os.W_OK)
        return Reach(check, True, "exists, writable" if writable else "exists, read-only")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK):
        return Reach(check, True, f"absent; can be created under {parent}")
    return Reach(check, False, f"absent, and {parent} is not writable")


def _run_concurrently(timeout: float, checks: Sequence[tuple[Any, Any]]) -> None:
    """Run the live checks in parallel; each row gets its result and, if it failed, ERROR."""
    todo = [(row, fn) for row, fn in checks if fn is not None]
    if not todo:
        return
    pool = ThreadPoolExecutor(max_workers=min(16, len(todo)), thread_name_prefix="dvt-debug")
    try:
        futures = [(row, pool.submit(fn)) for row, fn in todo]
        deadline = time.monotonic() + timeout * 2 + 2  # DNS has no timeout of its own
        for row, future in futures:
            try:
                reach: Reach = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                reach = Reach("check", False, f"no answer within {timeout:g} s")
            except OSError as exc:
                reach = Reach("check", False, f"failed: {exc}")
            row.reach = reach
            if reach.ok is False:
                row.status = ERROR
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


__all__ = [
    "BucketRow", "ConnectionRow", "EnvCheck", "FileCheck", "JarStatus", "Reach", "Report",
    "check_path", "check_tcp", "endpoint_of", "gather", "jar_status",
]
