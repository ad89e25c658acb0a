"""What the configuration needs: need keys and their top-level coordinates, from the facts.

Need keys: ``adapter:<type>`` (the JDBC driver of an adapter type), ``output:<name>`` (an output
with its own ``packages:``, which replace the adapter's driver), ``native:<adapter>`` (a native
bulk connector, needed when a bucket it can stage through is configured), ``format:<name>`` (the
runtime of a table format, Delta or Iceberg, for a files output in that format),
``catalog:<format>-<type>`` (what an output's catalog type needs beside the runtime, at the
runtime's version: the AWS SDK bundle of an Iceberg REST catalog) and ``bucket:<type>`` (the
Hadoop filesystem of a bucket type).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dvt_connect.adapters import FILESYSTEMS, filesystem_of
from dvt_connect.databases import DATABASES, database, database_of_jdbc_url
from dvt_connect.databases.files import TABLE_FORMATS, TableFormat, iceberg_catalog_type
from dvt_connect.databases.spec import Database, NativeFacts
from dvt_connect.errors import NotFoundError, UsageError
from dvt_connect.jars.coordinates import Coordinate
from dvt_connect.jars.releases import NoReleaseError, Release, from_facts
from dvt_connect.jars.resolver import Need
from dvt_connect.jars.spark_versions import SparkInstall, installed_spark

# A function that picks the connector release for the installed Spark (by default the
# hand-kept facts; `dvt sync` passes one that reads the repositories' metadata).
ReleasePicker = Callable[[NativeFacts, SparkInstall], Release]


def native_coordinates(native: NativeFacts, spark: SparkInstall,
                       releases: ReleasePicker = from_facts) -> tuple[Coordinate, ...]:
    """The connector release for the installed Spark minor and Scala binary versions."""
    return (releases(native, spark).coordinate,
            *(Coordinate.parse(c, f"{native.name} extra_packages")
              for c in native.extra_packages))


def _fill(text: str, spark: SparkInstall) -> str:
    return text.format(hadoop=spark.hadoop_version, scala=spark.scala_binary,
                       spark=spark.spark_minor)


def adapter_need(facts: Database) -> Need:
    coordinates = tuple(Coordinate.parse(c, f"the `{facts.name}` driver")
                        for c in facts.driver_packages)
    note = facts.driver_note if not coordinates and not facts.bundled_with_spark else None
    if facts.bundled_with_spark:
        note = f"the {facts.name} driver ships with Spark; nothing to download."
    return Need(f"adapter:{facts.name}", coordinates, note=note)


class NoRuntimeError(UsageError):
    """No runtime of a table format is built for the installed Spark minor: a transfer through
    it is refused before Spark starts, since a build for another minor fails on this one."""

    def __init__(self, fmt: TableFormat, spark: SparkInstall, newest: str, built_for: str,
                 *, refused: str = "") -> None:
        self.fmt = fmt
        super().__init__(
            f"{fmt.title} (format: {fmt.name}) has no runtime built for Spark "
            f"{spark.spark_minor} (PySpark {spark.spark_version} is installed); its newest "
            f"release, {newest}, is built for Spark {built_for} and fails on Spark "
            f"{spark.spark_minor}.{refused}",
            hint=f'Install PySpark {built_for} in dvt\'s environment ({sys.executable} -m pip '
                 f'install "pyspark=={built_for}.*"), then run `dvt sync`.')


def _facts_refusal(fmt: TableFormat, spark: SparkInstall, refused: str = "") -> NoRuntimeError:
    built_for = fmt.newest_spark
    artifact = fmt.runtime.artifact.format(spark=built_for, scala=spark.scala_binary)
    return NoRuntimeError(fmt, spark, str(Coordinate(fmt.runtime.group, artifact,
                                                     fmt.runtime.releases[built_for])),
                          built_for, refused=refused)


def runtime_refusal(fmt: TableFormat, spark: SparkInstall, synced: Sequence[str] = (), *,
                    refused: str = "") -> NoRuntimeError | None:
    """Why a table format cannot run on the installed Spark, or None when a runtime is built
    for its minor: known in the facts, or synced (``synced``: the coordinates `dvt sync`
    recorded, which may name a build newer than the facts). ``refused``: what the refusal
    leaves undone, said after the reason."""
    if spark.spark_minor in fmt.runtime.releases or _built_for(fmt, spark, synced):
        return None
    return _facts_refusal(fmt, spark, refused)


def _built_for(fmt: TableFormat, spark: SparkInstall, synced: Sequence[str]) -> bool:
    exact = fmt.runtime.artifact.format(spark=spark.spark_minor, scala=spark.scala_binary)
    return any(c.startswith(f"{fmt.runtime.group}:{exact}:") for c in synced)


def synced_for_another_minor(fmt: TableFormat, spark: SparkInstall,
                             synced: Sequence[str]) -> bool:
    """Whether `dvt sync` recorded a runtime built for another Spark minor than the installed
    one (a jars folder synced under another PySpark): it fails on this one, so it counts as
    missing until `dvt sync` fetches the build for this minor."""
    return bool(synced) and not _built_for(fmt, spark, synced)


def format_need(fmt: TableFormat, spark: SparkInstall,
                releases: ReleasePicker = from_facts) -> Need:
    """The runtime jar of a table format, the release built for the installed Spark minor; a
    problem (nothing fetched) when none is, as a build for another minor fails on it."""
    try:
        release = releases(fmt.runtime, spark)
    except NoReleaseError:
        return Need(fmt.need_key, problem=str(_facts_refusal(fmt, spark)))
    if release.built_for and release.built_for != spark.spark_minor:
        return Need(fmt.need_key, problem=str(NoRuntimeError(
            fmt, spark, str(release.coordinate), release.built_for)))
    extras = tuple(Coordinate.parse(c, f"{fmt.name} extra_packages")
                   for c in fmt.runtime.extra_packages)
    return Need(fmt.need_key, (release.coordinate, *extras),
                note=f"release {release.describe()}", transitive=fmt.transitive)


def catalog_key(fmt: TableFormat, kind: str) -> str:
    return f"catalog:{fmt.name}-{kind}"


def catalog_need(fmt: TableFormat, kind: str, runtime: Need) -> Need | None:
    """What an output's ``kind`` of catalog needs beside the runtime (``fmt.catalog_packages``),
    at the version of the runtime release ``runtime`` resolved; None when nothing."""
    artifacts = fmt.catalog_packages.get(kind, ())
    if not artifacts or runtime.problem or not runtime.coordinates:
        return None  # nothing, or the runtime's problem says why there is nothing to match
    version = runtime.coordinates[0].version
    return Need(catalog_key(fmt, kind),
                tuple(Coordinate(fmt.runtime.group, a, version) for a in artifacts),
                note=f"for the {kind} catalog's file IO, at the runtime's version {version}",
                transitive=False)


def _catalog_kind(connection: Any, fmt: TableFormat) -> str | None:
    kind = iceberg_catalog_type(connection)
    return kind if kind in fmt.catalog_packages else None


def native_need(native: NativeFacts, spark: SparkInstall,
                releases: ReleasePicker = from_facts, *, key: str | None = None,
                transitive: bool = True) -> Need:
    key = key or f"native:{native.name}"
    if native.is_python:  # runs in Python tasks: nothing for Spark's classpath
        return Need(key, note=f'the native {native.name} path is Python: '
                              f'`pip install "dvt-connect[{native.python_extra}]"`')
    try:
        release = releases(native, spark)
    except NoReleaseError as exc:
        return Need(key, problem=str(exc))
    extras = tuple(Coordinate.parse(c, f"{native.name} extra_packages")
                   for c in native.extra_packages)
    return Need(key, (release.coordinate, *extras), note=f"release {release.describe()}",
                warning=release.warning, transitive=transitive)


def bucket_need(bucket_type: str, spark: SparkInstall) -> Need:
    if bucket_type not in FILESYSTEMS:
        raise NotFoundError("bucket type", bucket_type, FILESYSTEMS)
    fs = FILESYSTEMS[bucket_type]
    return Need(f"bucket:{bucket_type}",
                tuple(Coordinate.parse(_fill(c, spark), f"the `{bucket_type}` filesystem")
                      for c in fs.packages),
                transitive=fs.transitive)


def output_need(name: str, packages: Iterable[str]) -> Need:
    return Need(f"output:{name}", tuple(Coordinate.parse(p, f"`packages:` of output `{name}`")
                                        for p in packages))


def needs_for(connections: Iterable[Any], buckets: Iterable[Any] | Mapping[str, Any],
              spark: SparkInstall, releases: ReleasePicker = from_facts) -> list[Need]:
    """Needs of a profile's outputs and buckets, each once, in a stable order."""
    bucket_list = list(buckets.values()) if isinstance(buckets, Mapping) else list(buckets)
    bucket_types = sorted({b.type for b in bucket_list})
    needs: dict[str, Need] = {}
    on_paths: set[str] = set()  # a files output on a bucket path needs that filesystem too,
    # buckets.yml entry or not (what a transfer into it checks: connection_needs)
    for conn in connections:
        facts: Database = getattr(conn, "facts", None) or database(conn.type)
        if facts.kind == "files":
            fs = filesystem_of(str(getattr(conn, "path", "") or ""))
            on_paths.update([fs.type] if fs is not None else [])
        packages = tuple(getattr(conn, "packages", ()) or ())
        need = output_need(conn.name, packages) if packages else adapter_need(facts)
        needs.setdefault(need.key, need)
        fmt = TABLE_FORMATS.get(str(getattr(conn, "format", "") or "")) \
            if facts.kind == "files" else None
        if fmt is not None and fmt.need_key not in needs:
            needs[fmt.need_key] = format_need(fmt, spark, releases)
        kind = _catalog_kind(conn, fmt) if fmt is not None else None
        if fmt is not None and kind is not None and catalog_key(fmt, kind) not in needs:
            extra = catalog_need(fmt, kind, needs[fmt.need_key])
            if extra is not None:
                needs[extra.key] = extra
        driver = catalog_driver(conn) if facts.kind == "files" else None
        if driver is not None:
            needs.setdefault(f"adapter:{driver.name}", adapter_need(driver))
        native = facts.native
        if native is not None and set(native.bucket_types) & set(bucket_types):
            key = f"native:{native.name}"
            if key not in needs:
                needs[key] = native_need(native, spark, releases)
    for bucket_type in sorted({*bucket_types, *on_paths}):
        needs.setdefault(f"bucket:{bucket_type}", bucket_need(bucket_type, spark))
    return list(needs.values())


def needs_for_types(adapter_types: Iterable[str], bucket_types: Iterable[str],
                    spark: SparkInstall, releases: ReleasePicker = from_facts) -> list[Need]:
    """Needs for `--adapter` / `--bucket` / `--all`: each adapter's driver and native
    connector, each bucket type's filesystem."""
    needs: dict[str, Need] = {}
    for name in adapter_types:
        facts = database(name)
        needs.setdefault(f"adapter:{facts.name}", adapter_need(facts))
        if facts.native is not None and f"native:{facts.native.name}" not in needs:
            needs[f"native:{facts.native.name}"] = native_need(facts.native, spark, releases)
    for bucket_type in bucket_types:
        needs.setdefault(f"bucket:{bucket_type}", bucket_need(bucket_type, spark))
    return list(needs.values())


def with_releases(needs: Iterable[Need], spark: SparkInstall,
                  releases: ReleasePicker) -> list[Need]:
    """The same needs with each native connector's release picked again by ``releases`` (sync
    reads the repositories' metadata once it knows which repositories to read)."""
    natives = {f"native:{f.native.name}": f.native for f in DATABASES.values()
               if f.native is not None}
    formats = {f.need_key: f for f in TABLE_FORMATS.values()}
    catalogs = {catalog_key(f, kind): (f, kind) for f in TABLE_FORMATS.values()
                for kind in f.catalog_packages}
    picked = [native_need(natives[n.key], spark, releases) if n.key in natives
              else format_need(formats[n.key], spark, releases) if n.key in formats else n
              for n in needs]
    runtimes = {n.key: n for n in picked if n.key in formats}
    out: list[Need] = []
    for need in picked:  # a catalog's packages follow the runtime release picked again
        if need.key in catalogs and catalogs[need.key][0].need_key in runtimes:
            fmt, kind = catalogs[need.key]
            again = catalog_need(fmt, kind, runtimes[fmt.need_key])
            out += [again] if again is not None else []
        else:
            out.append(need)
    return out


def all_types() -> tuple[list[str], list[str]]:
    adapters = [name for name, f in DATABASES.items() if f.kind == "jdbc"]
    return adapters, [t for t, fs in FILESYSTEMS.items() if fs.packages]


def catalog_driver(connection: Any) -> Database | None:
    """The database of an Iceberg JDBC catalog's ``uri`` (its driver must be on Spark's class
    path), or None."""
    catalog = getattr(connection, "catalog", None)
    if not isinstance(catalog, Mapping) or str(catalog.get("type") or "").lower() != "jdbc":
        return None
    return database_of_jdbc_url(str(catalog.get("uri") or ""))


def connection_needs(connection: Any) -> list[str]:
    """The need keys whose jars a connection's Spark session must load (transfer, debug):
    its driver (or its own `packages:`), or for a `files` output on a bucket path, that
    bucket type's filesystem."""
    facts: Database = getattr(connection, "facts", None) or database(connection.type)
    if facts.kind == "files":
        fs = filesystem_of(str(getattr(connection, "path", "") or ""))
        keys = [f"bucket:{fs.type}"] if fs is not None else []
        driver = catalog_driver(connection)
        keys += [f"adapter:{driver.name}"] if driver is not None else []
        fmt = TABLE_FORMATS.get(str(getattr(connection, "format", "") or ""))
        if fmt is None:
            return keys
        kind = _catalog_kind(connection, fmt)
        return [fmt.need_key, *([catalog_key(fmt, kind)] if kind else []), *keys]
    if getattr(connection, "packages", ()):
        return [f"output:{connection.name}"]
    return [f"adapter:{facts.name}"]


def requirements_for(connections: Iterable[Any],
                     buckets: Iterable[Any] | Mapping[str, Any],
                     spark: SparkInstall | None = None) -> dict[str, list[str]]:
    """Need key -> top-level coordinates (empty for drivers Spark ships, such as derby).

    Native connectors with no release for the installed Spark are left out: ``needs_for``
    carries the reason.
    """
    spark = spark or installed_spark()
    return {n.key: [str(c) for c in n.coordinates]
            for n in needs_for(connections, buckets, spark) if n.problem is None}
