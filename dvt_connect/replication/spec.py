"""The replication file: typed, strict, rendered like the profiles.

A replication file is ours (as ``buckets.yml`` is), so an unknown key is a typo and an error
naming the file and the key. ``{{ env_var('X') }}`` is rendered in every string before it is
validated, with the same rules and messages as ``profiles.yml``.

.. code-block:: yaml

    source: pg                  # outputs of the profile
    target: lake
    defaults:
      mode: overwrite
      object: "{schema}_{table}"
    streams:
      sales.*:                  # every table of `sales` (the source catalog, at plan time)
      sales.orders:             # an explicit stream beats a wildcard that also matches it
        partitions: 8
      big_customers:            # a query stream: named by its key
        sql: SELECT * FROM crm.customers WHERE revenue > 1000000
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dvt_connect.config.render import Renderer, read_yaml
from dvt_connect.connectors.base import WRITE_MODES
from dvt_connect.connectors.selection import CONNECTOR_MODES
from dvt_connect.errors import ConfigError

TOP_LEVEL_KEYS = ("source", "target", "defaults", "streams")
# Keys the merge and incremental modes will read (issue 15): known, so the error says what they
# are for instead of "unknown key", but refused until those modes exist.
FUTURE_KEYS = ("primary_key", "update_key")
# Modes a stream can take today: the keyed ones (issue 15's merge, incremental, backfill) need
# those keys, which replication files do not pass yet.
KEYED_MODES = ("merge", "incremental", "backfill")
STREAM_MODES = tuple(m for m in WRITE_MODES if m not in KEYED_MODES)
WILDCARD_CHARS = ("*", "?", "[")


@dataclass(frozen=True)
class StreamOptions:
    """What a stream (or ``defaults:``) sets; None means "not set here"."""

    mode: str | None = None
    object: str | None = None
    connector: str | None = None
    partitions: int | None = None
    partition_column: str | None = None
    fetch_size: int | None = None
    batch_size: int | None = None
    columns: tuple[str, ...] | None = None
    where: str | None = None
    partition_by: tuple[str, ...] | None = None
    allow_lossy: tuple[str, ...] | None = None
    sql: str | None = None

    def over(self, base: StreamOptions) -> StreamOptions:
        """These options laid over ``base``: every key set here wins."""
        changes = {f.name: getattr(self, f.name) for f in fields(self)
                   if getattr(self, f.name) is not None}
        return replace(base, **changes)


OPTION_KEYS = tuple(f.name for f in fields(StreamOptions))
_INT_KEYS = ("partitions", "fetch_size", "batch_size")
_LIST_KEYS = ("columns", "partition_by", "allow_lossy")
_TEXT_KEYS = ("object", "partition_column", "where", "sql")


@dataclass(frozen=True)
class StreamEntry:
    """One key of ``streams:`` as written: a table, a wildcard, or a query's name."""

    key: str
    options: StreamOptions

    @property
    def is_wildcard(self) -> bool:
        return any(c in self.key for c in WILDCARD_CHARS)

    @property
    def is_query(self) -> bool:
        return self.options.sql is not None


@dataclass(frozen=True)
class ReplicationSpec:
    """A parsed replication file. ``path`` is None for a spec built in Python."""

    source: str
    target: str
    defaults: StreamOptions
    streams: tuple[StreamEntry, ...]
    path: Path | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return str(self.path.resolve()) if self.path is not None else "<python>"


def load_spec(path: str | Path) -> ReplicationSpec:
    """Read, render and validate a replication file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("replication file not found.", path=path,
                          hint="Give the path of a YAML file with `source`, `target` and "
                               "`streams` (see README, `dvt run`).")
    return parse_spec(read_yaml(path), path=path)


def parse_spec(data: Any, *, path: Path | None = None) -> ReplicationSpec:
    """Validate a replication document (already parsed YAML, or a dict built in Python)."""
    if not isinstance(data, Mapping):
        raise ConfigError("a replication file must be a mapping with `source`, `target` and "
                          "`streams`.", path=path)
    renderer = Renderer(path or Path("<python>"))
    data = {str(k): renderer.render_value(v, str(k)) for k, v in data.items()}
    _no_unknown(data, TOP_LEVEL_KEYS, path=path, prefix="")
    for key in ("source", "target"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"`{key}` must name an output of the profile.", path=path, key=key)
    defaults_raw = data.get("defaults") or {}
    if not isinstance(defaults_raw, Mapping):
        raise ConfigError("`defaults` must be a mapping of stream options.", path=path,
                          key="defaults")
    defaults = _options(defaults_raw, path=path, key="defaults")
    if defaults.sql is not None:
        raise ConfigError("`sql` belongs to one stream, not to the defaults.", path=path,
                          key="defaults.sql")
    streams_raw = data.get("streams")
    if not isinstance(streams_raw, Mapping) or not streams_raw:
        raise ConfigError("`streams` must be a non-empty mapping of table names, wildcards "
                          "(`sales.*`) or query names to their options.", path=path,
                          key="streams")
    streams = []
    for name, body in streams_raw.items():
        key = f"streams.{name}"
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a stream key must be a table name, a wildcard or a query name.",
                              path=path, key=key)
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise ConfigError("a stream's value must be a mapping of options (or empty).",
                              path=path, key=key)
        entry = StreamEntry(key=name.strip(), options=_options(body, path=path, key=key))
        if entry.is_wildcard and entry.is_query:
            raise ConfigError("a wildcard stream cannot have `sql`; name a query stream "
                              "without `*`.", path=path, key=f"{key}.sql")
        if entry.is_query and (entry.options.columns or entry.options.where):
            raise ConfigError("`columns` and `where` go with table streams; put them in the "
                              "stream's `sql`.", path=path,
                              key=f"{key}.{'columns' if entry.options.columns else 'where'}")
        streams.append(entry)
    return ReplicationSpec(source=data["source"].strip(), target=data["target"].strip(),
                           defaults=defaults, streams=tuple(streams), path=path, raw=data)


def _no_unknown(body: Mapping[str, Any], valid: tuple[str, ...], *, path: Path | None,
                prefix: str) -> None:
    import difflib

    for name in body:
        if name in valid:
            continue
        key = f"{prefix}{name}"
        if name in FUTURE_KEYS:
            raise ConfigError(
                f"`{name}` goes with the merge and incremental modes, which replication files "
                f"do not take yet (`dvt transfer` does); valid modes here: "
                f"{', '.join(STREAM_MODES)}.", path=path, key=key)
        close = difflib.get_close_matches(str(name), valid, n=1)
        raise ConfigError(
            f"unknown key `{name}`; valid keys: {', '.join(valid)}.", path=path, key=key,
            hint=f"Did you mean `{close[0]}`?" if close else None)


def _options(body: Mapping[str, Any], *, path: Path | None, key: str) -> StreamOptions:
    _no_unknown(body, OPTION_KEYS, path=path, prefix=f"{key}.")
    values: dict[str, Any] = {}
    for name, value in body.items():
        sub = f"{key}.{name}"
        if value is None:
            continue
        if name == "mode":
            if value in KEYED_MODES:
                raise ConfigError(f"mode `{value}` needs `primary_key`/`update_key`, which "
                                  "replication files do not take yet (`dvt transfer --mode "
                                  f"{value}` does); valid here: {', '.join(STREAM_MODES)}.",
                                  path=path, key=sub)
            if value not in WRITE_MODES:
                raise ConfigError(f"unknown mode `{value}`; valid: {', '.join(STREAM_MODES)}.",
                                  path=path, key=sub)
        elif name == "connector":
            if value not in CONNECTOR_MODES:
                raise ConfigError(f"unknown connector `{value}`; valid: "
                                  f"{', '.join(CONNECTOR_MODES)}.", path=path, key=sub)
        elif name in _INT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"must be a whole number of at least 1, not `{value}`.",
                                  path=path, key=sub)
        elif name in _LIST_KEYS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                      for v in value):
                raise ConfigError("must be a list of column names.", path=path, key=sub)
            value = tuple(v.strip() for v in value)
        elif name in _TEXT_KEYS and (not isinstance(value, str) or not value.strip()):
            raise ConfigError("must be a non-empty string.", path=path, key=sub)
        values[name] = value
    return StreamOptions(**values)
