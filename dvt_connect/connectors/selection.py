"""Which connector moves a table, and why: one pure function that debug and transfer both call.

The origin design's rules (native when the adapter has one and a matching bucket is configured,
else a warning and JDBC), plus size (NOTES #7): below a threshold of estimated rows the native
path's export and staging overhead is not worth it, so JDBC is used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import ConnectorType
from dvt_connect.databases.files import TABLE_FORMATS
from dvt_connect.databases.spec import NativeFacts, StageFacts
from dvt_connect.errors import ConfigError, UsageError

NATIVE_ROW_THRESHOLD = 100_000
CONNECTOR_MODES = ("auto", "jdbc", "native")
# output setting choosing between a warehouse's two native paths
NATIVE_PATH_KEY = "native_path"
NATIVE_PATHS = ("connector", "unload")


@dataclass(frozen=True)
class Choice:
    """The connector chosen for one connection, the bucket it stages through, and why."""

    connector: ConnectorType
    reason: str
    native: NativeFacts | None = None
    bucket: Bucket | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # the warehouse's own unload/load SQL: needs the bucket's filesystem jar, not the connector's
    unload: bool = False

    @property
    def is_native(self) -> bool:
        return self.native is not None


def find_bucket(
    native: NativeFacts | StageFacts,
    buckets: Mapping[str, Bucket],
    preferred: str | None = None,
) -> Bucket | None:
    """The bucket a native connector can stage through: the preferred one (``--bucket`` or the
    bucket profile's target) when its type fits, else the first by the connector's preference."""
    if preferred and preferred in buckets and buckets[preferred].type in native.bucket_types:
        return buckets[preferred]
    for bucket_type in native.bucket_types:
        for bucket in buckets.values():
            if bucket.type == bucket_type:
                return bucket
    return None


def module_installed(name: str) -> bool:
    """Whether a Python module can be imported (looked up, not imported)."""
    return importlib.util.find_spec(name) is not None


def missing_python(native: NativeFacts,
                   installed: Callable[[str], bool] = module_installed) -> list[str]:
    """The Python modules a Python native path needs that are not installed."""
    return [m for m in native.python_modules if not installed(m)]


def native_possible(native: NativeFacts | None, buckets: Mapping[str, Bucket],
                    preferred: str | None = None,
                    installed: Callable[[str], bool] = module_installed,
                    unavailable: str | None = None) -> bool:
    """Whether :func:`choose_connector` could pick the native path (so an estimate is worth
    asking for): its Python modules are installed and, where it stages, a bucket fits."""
    if native is None or unavailable or missing_python(native, installed):
        return False
    return not native.needs_bucket or find_bucket(native, buckets, preferred) is not None


def native_path(connection: Connection) -> str | None:
    """The output's ``native_path:`` (``connector`` or ``unload``), or None when not set."""
    value = connection.extra.get(NATIVE_PATH_KEY)
    if value is None:
        return None
    if value not in NATIVE_PATHS or (value == "unload" and connection.facts.stage is None):
        valid = NATIVE_PATHS if connection.facts.stage is not None else ("connector",)
        raise ConfigError(f"`{NATIVE_PATH_KEY}: {value}` is not valid for {connection.type}; "
                          f"valid: {', '.join(valid)}.",
                          path=connection.source_file, key=f"{connection.name}.{NATIVE_PATH_KEY}")
    return str(value)


def unload_wanted(connection: Connection, unavailable: str | None) -> bool:
    """Whether a warehouse's stage-native path is the native path for ``connection``: the
    output asks for it, or its Spark connector cannot run here and the output did not insist."""
    if connection.facts.stage is None or connection.is_files:
        return False
    forced = native_path(connection)
    return forced == "unload" or (forced is None and bool(unavailable))


def choose_connector(
    connection: Connection,
    buckets: Mapping[str, Bucket],
    *,
    mode: str = "auto",
    preferred_bucket: str | None = None,
    estimated_rows: int | None = None,
    threshold: int = NATIVE_ROW_THRESHOLD,
    installed: Callable[[str], bool] = module_installed,
    unavailable: str | None = None,
    rows_target: str | None = None,
) -> Choice:
    """Decide how to read ``connection``. Pure but for ``installed`` (whether a Python module
    is there), so tests and `dvt debug` can call it. ``unavailable`` is why the native
    connector cannot run here although configured (e.g. its jars are not synced).
    ``rows_target`` is why the target needs Spark rows (None: it takes Arrow end to end)."""
    if mode not in CONNECTOR_MODES:
        raise UsageError(f"unknown connector `{mode}`; valid: {', '.join(CONNECTOR_MODES)}.")
    if connection.is_files and connection.format in TABLE_FORMATS:
        return Choice(ConnectorType.LAKEHOUSE, f"{connection.format} table at {connection.path}")
    if connection.is_files:
        return Choice(ConnectorType.FILES, f"{connection.format} files at {connection.path}")
    native = connection.facts.native
    if mode == "jdbc":
        return Choice(ConnectorType.JDBC, "JDBC requested with --connector jdbc")
    if native is None:
        if mode == "native":
            raise UsageError(
                f"`{connection.type}` has no native connector; use --connector jdbc or auto."
            )
        return Choice(ConnectorType.JDBC, f"no native connector for {connection.type}")

    if unload_wanted(connection, unavailable):
        return _choose_unload(connection, buckets, mode=mode, preferred_bucket=preferred_bucket,
                              estimated_rows=estimated_rows, threshold=threshold,
                              unavailable=unavailable)

    if unavailable:
        if mode == "native":
            raise ConfigError(f"--connector native cannot be used for {connection.type}: "
                              f"{unavailable}.")
        return Choice(ConnectorType.JDBC, unavailable, warnings=(
            f"Native connector available for {connection.type} but {unavailable}. "
            "Falling back to JDBC.",))

    missing = missing_python(native, installed)
    if missing:
        extra = f'pip install "dvt-connect[{native.python_extra}]"'
        warning = (
            f"Native connector available for {connection.type} but its Python driver is not "
            f"installed ({', '.join(missing)}). Install it with `{extra}` for faster "
            "transfers. Falling back to JDBC."
        )
        if mode == "native":
            raise ConfigError(
                f"--connector native needs the Python package(s) {', '.join(missing)} for "
                f"{connection.type}, which are not installed.",
                hint=f"Install them with `{extra}`.",
            )
        return Choice(ConnectorType.JDBC, f"the native path's Python driver is not installed "
                      f"({', '.join(missing)}; `{extra}`)", warnings=(warning,))

    bucket = find_bucket(native, buckets, preferred_bucket)
    if bucket is None and native.needs_bucket:
        wanted = "/".join(native.bucket_types)
        warning = (
            f"Native connector available for {connection.type} but no {wanted} bucket "
            f"configured. Configure buckets.yml for faster transfers. Falling back to JDBC."
        )
        if mode == "native":
            raise ConfigError(
                f"--connector native needs a {wanted} bucket for {connection.type}, and "
                "buckets.yml has none.",
                hint="Add one to buckets.yml (`dvt init` writes a template).",
            )
        return Choice(ConnectorType.JDBC, f"no {wanted} bucket configured", warnings=(warning,))

    where = (f"staging through `{bucket.name}` ({bucket.type})" if native.needs_bucket
             and bucket is not None else "the database's bulk protocol inside Spark tasks")
    if mode == "native":
        return Choice(ConnectorType.native(native.name), f"native requested; {where}",
                      native=native, bucket=bucket)
    if estimated_rows is not None and estimated_rows < threshold:
        return Choice(
            ConnectorType.JDBC,
            f"about {estimated_rows:,} rows (catalog estimate) is under {threshold:,}: "
            "JDBC is cheaper than a bulk export",
        )
    if rows_target and native.is_python:
        return Choice(ConnectorType.JDBC, f"the target takes Spark rows ({rows_target}): into "
                      f"Spark rows, partitioned JDBC reads are faster than {native.name}'s bulk "
                      "export (measured; docs/architecture.md, 'The automatic choice')")
    if estimated_rows is None:
        return Choice(ConnectorType.native(native.name),
                      f"native connector, {where} (size unknown; JDBC below "
                      f"{threshold:,} estimated rows)", native=native, bucket=bucket)
    return Choice(
        ConnectorType.native(native.name),
        f"about {estimated_rows:,} rows (catalog estimate) ≥ {threshold:,}; {where}",
        native=native,
        bucket=bucket,
    )


def _choose_unload(connection: Connection, buckets: Mapping[str, Bucket], *, mode: str,
                   preferred_bucket: str | None, estimated_rows: int | None, threshold: int,
                   unavailable: str | None) -> Choice:
    """The stage-native path (the warehouse's own unload/load SQL), or JDBC when no bucket
    fits; the reason says why the vendor connector was not used."""
    stage = connection.facts.stage
    native = connection.facts.native
    assert stage is not None
    title = connection.facts.title
    why = (f"`{NATIVE_PATH_KEY}: unload` is set" if native_path(connection) == "unload"
           else f"no Spark connector for {connection.type} can run here ({unavailable})")
    bucket = find_bucket(stage, buckets, preferred_bucket)
    if bucket is None:
        wanted = "/".join(stage.bucket_types)
        if mode == "native":
            raise ConfigError(
                f"--connector native needs a {wanted} bucket for {connection.type} ({why}), "
                "and buckets.yml has none.",
                hint="Add one to buckets.yml (`dvt init` writes a template).")
        return Choice(ConnectorType.JDBC, f"no {wanted} bucket configured", warnings=(
            f"{title}'s stage-native path (its own unload to a bucket) is available, but no "
            f"{wanted} bucket is configured. Falling back to JDBC.",))
    where = (f"stage-native: {title} unloads to `{bucket.name}` ({bucket.type}) and Spark "
             f"reads the Parquet; {why}")
    if mode == "auto" and estimated_rows is not None and estimated_rows < threshold:
        return Choice(ConnectorType.JDBC,
                      f"about {estimated_rows:,} rows (catalog estimate) is under "
                      f"{threshold:,}: JDBC is cheaper than an unload")
    return Choice(ConnectorType.unload(connection.facts.name), where, native=native,
                  bucket=bucket, unload=True)
