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
      update_key: updated_at    # read only by the streams whose mode uses it
    streams:
      sales.*:                  # every table of `sales` (the source catalog, at plan time)
      sales.orders:             # an explicit stream beats a wildcard that also matches it
        partitions: 8
        mode: incremental
        primary_key: [id]
      big_customers:            # a query stream: named by its key
        sql: SELECT * FROM crm.customers WHERE revenue > 1000000
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dvt_connect.config.render import Renderer, read_yaml
from dvt_connect.connectors.base import WRITE_MODES, WriteRequest
from dvt_connect.connectors.selection import CONNECTOR_MODES
from dvt_connect.errors import ConfigError, UsageError
from dvt_connect.incremental import parse_lookback

TOP_LEVEL_KEYS = ("source", "target", "defaults", "streams")
STREAM_MODES = WRITE_MODES
WILDCARD_CHARS = ("*", "?", "[")
# The keyed options and the modes that read them (as `dvt transfer`'s --primary-key & co.): set
# in `defaults:`, a key applies only to the streams whose mode reads it; set on a stream, it
# must fit that stream's mode.
KEY_MODES = {
    "primary_key": ("merge", "incremental"),
    "tie_breaker": ("merge", "incremental"),
    "update_key": ("incremental", "backfill"),
    "lookback": ("incremental",),
    "range": ("backfill",),
}
# Modes that add a predicate to a table's read, so a query stream cannot take them.
TABLE_ONLY_MODES = ("incremental", "backfill")


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
    primary_key: tuple[str, ...] | None = None
    update_key: str | None = None
    tie_breaker: str | None = None
    lookback: str | None = None
    range: str | None = None
    lock_timeout: float | None = None

    def over(self, base: StreamOptions) -> StreamOptions:
        """These options laid over ``base``: every key set here wins."""
        changes = {f.name: getattr(self, f.name) for f in fields(self)
                   if getattr(self, f.name) is not None}
        return replace(base, **changes)


OPTION_KEYS = tuple(f.name for f in fields(StreamOptions))
_INT_KEYS = ("partitions", "fetch_size", "batch_size")
_LIST_KEYS = ("columns", "partition_by", "allow_lossy", "primary_key")
_TEXT_KEYS = ("object", "partition_column", "where", "sql", "update_key", "tie_breaker",
              "range")


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
        stream_options(entry, defaults, path=path)  # the keys fit the stream's mode
        streams.append(entry)
    return ReplicationSpec(source=data["source"].strip(), target=data["target"].strip(),
                           defaults=defaults, streams=tuple(streams), path=path, raw=data)


def stream_options(entry: StreamEntry, defaults: StreamOptions, *,
                   path: Path | None) -> StreamOptions:
    """The stream's options laid over ``defaults``, keeping only the defaults' keys its mode
    reads; a combination `dvt transfer` would refuse is refused here, naming the stream."""
    options = entry.options.over(defaults)
    mode = options.mode or "overwrite"
    unused = {name: None for name, modes in KEY_MODES.items()
              if getattr(entry.options, name) is None and mode not in modes}
    options = replace(options, **unused)
    key = f"streams.{entry.key}"
    if entry.is_query and mode in TABLE_ONLY_MODES:
        raise ConfigError(f"mode `{mode}` reads a table (its key predicate is added to the "
                          "table's WHERE), not a query stream's `sql`; make it a table or view "
                          "stream with `where`.", path=path, key=f"{key}.sql")
    try:
        WriteRequest(mode=mode, primary_key=options.primary_key or (),
                     update_key=options.update_key, tie_breaker=options.tie_breaker,
                     lookback=options.lookback, range=options.range,
                     lock_timeout=300.0 if options.lock_timeout is None
                     else options.lock_timeout)
        if options.lookback:
            parse_lookback(options.lookback)
    except UsageError as exc:
        raise ConfigError(_file_words(exc.message), path=path, key=key) from None
    return options


def _file_words(message: str) -> str:
    """`dvt transfer`'s rule, said in the replication file's words (``--primary-key`` is
    ``primary_key``; ``--mode merge`` is mode `merge`)."""
    message = re.sub(r"--mode (\w+)", r"mode `\1`", message)
    return re.sub(r"--([a-z][a-z-]*)", lambda m: f"`{m.group(1).replace('-', '_')}`", message)


def _no_unknown(body: Mapping[str, Any], valid: tuple[str, ...], *, path: Path | None,
                prefix: str) -> None:
    import difflib

    for name in body:
        if name in valid:
            continue
        key = f"{prefix}{name}"
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
        elif name == "lookback":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)) \
                    or not str(value).strip():
                raise ConfigError("must be a window such as `2h`, `1d`, or a number for a "
                                  "numeric update key.", path=path, key=sub)
            value = str(value).strip()
        elif name == "lock_timeout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"must be a number of seconds, 0 or more, not `{value}`.",
                                  path=path, key=sub)
            value = float(value)
        values[name] = value
    return StreamOptions(**values)
