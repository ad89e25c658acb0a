"""From a replication file to the list of streams to run: pure, given the source's catalog.

Wildcards are expanded against the catalog at plan time; an explicit stream beats a wildcard
that also matches its table (the first wildcard in file order wins between wildcards); options
are laid over ``defaults:``; target names are rendered from ``object``; ``--select`` and
``--exclude`` keep or drop streams; the order is largest first by catalog estimate, so the big
tables start while small ones fill the remaining threads.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.errors import ConfigError, DvtError, UsageError
from dvt_connect.replication.spec import (
    ReplicationSpec,
    StreamEntry,
    StreamOptions,
    stream_options,
)

DEFAULT_OBJECT = "{table}"
OBJECT_FIELDS = ("schema", "table", "stream")


class SourceCatalog(Protocol):
    """What the planner asks the source: its tables and their estimated sizes (no data)."""

    @property
    def default_schema(self) -> str | None: ...
    def tables(self, schema: str | None) -> list[str]: ...
    def estimate(self, schema: str | None, table: str) -> int | None: ...


@dataclass(frozen=True)
class StreamPlan:
    """One stream, fully decided: what to read, where to write, with which options."""

    name: str
    key: str
    table: TableRef | None
    query: str | None
    target_table: TableRef
    options: StreamOptions
    estimated_rows: int | None = None
    # the schema the table was found in (the source's default when the key names none)
    found_in: str | None = None

    @property
    def mode(self) -> str:
        return self.options.mode or "overwrite"

    @property
    def connector(self) -> str:
        return self.options.connector or "auto"

    @property
    def pool(self) -> str:
        """The Spark scheduler pool of this stream's jobs."""
        return "dvt_" + re.sub(r"[^A-Za-z0-9_]+", "_", self.name)

    def read_request(self) -> ReadRequest:
        o = self.options
        return ReadRequest(table=self.table, query=self.query, columns=o.columns or (),
                           where=o.where, partitions=o.partitions,
                           partition_column=o.partition_column, fetch_size=o.fetch_size)

    def write_request(self) -> WriteRequest:
        o = self.options
        return WriteRequest(table=self.target_table, mode=self.mode, batch_size=o.batch_size,
                            partition_by=o.partition_by or (), primary_key=o.primary_key or (),
                            update_key=o.update_key, tie_breaker=o.tie_breaker,
                            lookback=o.lookback, range=o.range,
                            lock_timeout=300.0 if o.lock_timeout is None else o.lock_timeout)

    def describe(self) -> dict[str, object]:
        return {"stream": self.name, "from_key": self.key,
                "source_table": str(self.table) if self.table else None, "sql": self.query,
                "target_table": str(self.target_table), "mode": self.mode,
                "primary_key": list(self.options.primary_key or ()),
                "update_key": self.options.update_key, "connector": self.connector,
                "estimated_rows": self.estimated_rows,
                "pool": self.pool}


def plan_streams(
    spec: ReplicationSpec,
    catalog: SourceCatalog | None,
    *,
    source_name: str,
    target_schema: str | None = None,
    target_is_files: bool = False,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[StreamPlan]:
    """Expand, merge, name, filter and order the streams. ``catalog`` is None for a files
    source, where only explicit table names are allowed."""
    found: dict[tuple[str, str | None, str], StreamPlan] = {}
    explicit = [e for e in spec.streams if not e.is_wildcard]
    wildcards = [e for e in spec.streams if e.is_wildcard]
    for entry in explicit + wildcards:
        for plan in _expand(spec, entry, catalog, source_name=source_name,
                            target_schema=target_schema, target_is_files=target_is_files):
            ident = (("table", plan.found_in, plan.table.name) if plan.table
                     else ("query", None, plan.name))
            found.setdefault(ident, plan)
    _check_targets(spec, list(found.values()))
    streams = sorted(found.values(), key=lambda s: -(s.estimated_rows or 0))
    return _filter(streams, select, exclude)


def _expand(spec: ReplicationSpec, entry: StreamEntry, catalog: SourceCatalog | None, *,
            source_name: str, target_schema: str | None,
            target_is_files: bool) -> list[StreamPlan]:
    options = stream_options(entry, spec.defaults, path=spec.path)
    key = f"streams.{entry.key}"
    if entry.is_query:
        return [_plan(spec, entry, options, None, None, entry.key, None, target_schema,
                      target_is_files)]
    try:
        ref = TableRef.parse(entry.key)
    except DvtError:
        raise ConfigError(f"`{entry.key}` is not a table name; write `table`, `schema.table` or "
                          "a wildcard such as `schema.*`.", path=spec.path, key=key) from None
    if catalog is None:
        if entry.is_wildcard:
            raise ConfigError(
                f"a wildcard needs a database source's catalog, and `{source_name}` is a files "
                "output; name each table (folder) as its own stream.", path=spec.path, key=key)
        return [_plan(spec, entry, options, ref.schema, ref.name, entry.key, None,
                      target_schema, target_is_files)]
    schema = ref.schema or catalog.default_schema
    names = catalog.tables(schema)
    matched = [n for n in names if fnmatch.fnmatchcase(n, ref.name)] if entry.is_wildcard \
        else [n for n in names if n == ref.name]
    if not matched:
        place = f"schema `{schema}`" if schema else "the default schema"
        close = difflib.get_close_matches(ref.name, names, n=3)
        if close:
            hint = "Did you mean " + ", ".join(f"`{c}`" for c in close) + "?"
        elif names:
            hint = (f"Tables in {place}: " + ", ".join(f"`{n}`" for n in sorted(names)[:10])
                    + (" ..." if len(names) > 10 else "."))
        else:
            hint = f"No tables are visible in {place}."
        raise ConfigError(f"stream `{entry.key}` matches no table in {place} of output "
                          f"`{source_name}`.", path=spec.path, key=key, hint=hint)
    plans = []
    for name in matched:
        stream = f"{ref.schema}.{name}" if ref.schema else name
        plans.append(_plan(spec, entry, options, schema, name, stream,
                           catalog.estimate(schema, name), target_schema, target_is_files))
    return plans


def _plan(spec: ReplicationSpec, entry: StreamEntry, options: StreamOptions,
          schema: str | None, table: str | None, stream: str, estimate: int | None,
          target_schema: str | None, target_is_files: bool) -> StreamPlan:
    template = options.object or DEFAULT_OBJECT
    key = f"streams.{entry.key}.object" if entry.options.object else (
        "defaults.object" if spec.defaults.object else f"streams.{entry.key}")
    values = {"schema": schema or "", "table": table or stream,
              "stream": re.sub(r"[^A-Za-z0-9_]+", "_", stream)}
    try:
        wanted = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        unknown = sorted(wanted - set(OBJECT_FIELDS))
        if unknown:
            raise ConfigError(f"unknown placeholder `{{{unknown[0]}}}` in `{template}`; valid: "
                              + ", ".join(f"`{{{f}}}`" for f in OBJECT_FIELDS) + ".",
                              path=spec.path, key=key)
        rendered = template.format(**values)
        target = TableRef.parse(rendered)
    except (ValueError, DvtError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"`{template}` does not name a target table for stream `{stream}`.",
                          path=spec.path, key=key) from None
    if target.schema is None and target_schema and not target_is_files:
        target = TableRef(name=target.name, schema=target_schema)
    table_ref = TableRef(name=table, schema=schema) if table is not None else None
    return StreamPlan(name=stream, key=entry.key, table=table_ref, query=options.sql,
                      target_table=target, options=options, estimated_rows=estimate,
                      found_in=schema)


def _check_targets(spec: ReplicationSpec, streams: list[StreamPlan]) -> None:
    seen: dict[str, StreamPlan] = {}
    for stream in streams:
        target = str(stream.target_table).lower()
        if target in seen:
            other = seen[target]
            raise ConfigError(
                f"streams `{other.name}` and `{stream.name}` both write to "
                f"`{stream.target_table}`.", path=spec.path, key=f"streams.{stream.key}",
                hint="Give them different targets with `object:` (for example "
                     "`object: \"{schema}_{table}\"` in `defaults:`).")
        seen[target] = stream


def _matches(stream: StreamPlan, pattern: str) -> bool:
    names = [stream.name, stream.key]
    if stream.table is not None:
        names.append(stream.table.name)
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)


def _filter(streams: list[StreamPlan], select: Sequence[str],
            exclude: Sequence[str]) -> list[StreamPlan]:
    for option, patterns in (("--select", select), ("--exclude", exclude)):
        for pattern in patterns:
            if not any(_matches(s, pattern) for s in streams):
                raise UsageError(f"{option} `{pattern}` matches no stream; streams: "
                                 + ", ".join(f"`{s.name}`" for s in streams) + ".")
    kept = [s for s in streams if not select or any(_matches(s, p) for p in select)]
    return [s for s in kept if not any(_matches(s, p) for p in exclude)]
