"""Test doubles for the warehouse connectors, standing at the Spark data-source boundary.

Snowflake, BigQuery and Redshift cannot be reached from here, so each of their Spark connectors is
replaced by a PySpark Python data source registered under the connector's *real* format name (the
one in the adapter facts). The code under test stays the real path, unchanged:
``spark.read.format(facts.native.spark_format).options(...).load()`` and
``df.write.format(...).options(...).mode(...).save()``.

This works because Spark looks a format up among the JVM data sources first and among the Python
ones only when no class by that name loads; and ``spark.dataSource.register`` refuses a name a JVM
source already has (DATA_SOURCE_ALREADY_EXISTS). So a double is only ever used where the real
connector is absent, and can never shadow it.

What a double does, so tests can assert on it:

* records the options it received (Spark hands them over lower-cased) as JSON files in
  ``record_dir``;
* reads: returns fixture rows, or one estimate row for a catalog query; if the options name a
  ``tempdir`` (Redshift's UNLOAD) it first writes a staged file there, as the warehouse would;
* writes: stages the rows under ``tempdir``/``temporarygcsbucket`` when given (as the connector
  would before COPY / the load job), and on commit records the rows as the loaded "table";
* fails on demand: a table or query containing ``fail`` raises after staging, as a warehouse
  error in the middle of a transfer would.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    DataSourceWriter,
    WriterCommitMessage,
)

FIXTURE_ROWS = [(1, "alpha"), (2, "beta"), (3, "gamma")]
ESTIMATE = 123_456
_CATALOGS = ("information_schema.tables", "svv_table_info", "__tables__")


class SimulatedWarehouseError(RuntimeError):
    """What a double raises when asked to fail (a table or query containing `fail`)."""


def _local(uri: str) -> Path | None:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _target(options: dict[str, str]) -> str:
    return options.get("dbtable") or options.get("path") or options.get("query") or ""


def _is_estimate(options: dict[str, str]) -> bool:
    """A catalog query (the connectors' estimate_rows), answered with one number."""
    query = options.get("query", "").lower()
    return any(meta in query for meta in _CATALOGS)


def _stage(options: dict[str, str], payload: list[Any]) -> None:
    """Write what the warehouse or connector would stage, under tempdir / temporaryGcsBucket."""
    root = options.get("tempdir") or options.get("temporarygcsbucket")
    folder = _local(root) if root else None
    if folder is None:
        return
    part = folder / f"staged-{uuid.uuid4().hex[:8]}" / "part-00000"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_text(json.dumps(payload))


def _record(record_dir: str, kind: str, fmt: str, options: dict[str, str], **extra: Any) -> None:
    path = Path(record_dir) / f"{kind}-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps({"kind": kind, "format": fmt, "options": options, **extra}))


class WarehouseSourceDouble(DataSource):
    """Base of the three doubles; ``format_name`` and ``record_dir`` are set per test."""

    format_name = ""
    record_dir = ""

    @classmethod
    def name(cls) -> str:
        return cls.format_name

    def schema(self) -> str:
        return "estimate BIGINT" if _is_estimate(self.options) else "id INT, name STRING"

    def reader(self, schema: Any) -> DataSourceReader:
        return _ReaderDouble(dict(self.options), type(self).record_dir, type(self).format_name)

    def writer(self, schema: Any, overwrite: bool) -> DataSourceWriter:
        return _WriterDouble(dict(self.options), type(self).record_dir, type(self).format_name,
                             overwrite)


class _ReaderDouble(DataSourceReader):
    def __init__(self, options: dict[str, str], record_dir: str, fmt: str) -> None:
        self.options, self.record_dir, self.fmt = options, record_dir, fmt

    def read(self, partition: Any) -> Iterator[tuple[Any, ...]]:
        _record(self.record_dir, "read", self.fmt, self.options)
        if "tempdir" in self.options:  # Redshift UNLOADs before Spark reads
            _stage(self.options, FIXTURE_ROWS)
        if "fail" in _target(self.options).lower():
            raise SimulatedWarehouseError(f"{self.fmt} double: simulated warehouse failure")
        if _is_estimate(self.options):
            yield (ESTIMATE,)
        else:
            yield from FIXTURE_ROWS


class _WriterDouble(DataSourceWriter):
    def __init__(self, options: dict[str, str], record_dir: str, fmt: str,
                 overwrite: bool) -> None:
        self.options, self.record_dir, self.fmt = options, record_dir, fmt
        self.overwrite = overwrite

    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        rows = [list(row) for row in iterator]
        _stage(self.options, rows)
        if "fail" in _target(self.options).lower():
            raise SimulatedWarehouseError(f"{self.fmt} double: simulated load failure")
        batch = Path(self.record_dir) / f"rows-{uuid.uuid4().hex}.json"
        batch.write_text(json.dumps(rows))
        return WriterCommitMessage()

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        rows: list[Any] = []
        for batch in sorted(Path(self.record_dir).glob("rows-*.json")):
            rows += json.loads(batch.read_text())
            batch.unlink()
        root = self.options.get("tempdir") or self.options.get("temporarygcsbucket")
        folder = _local(root) if root else None
        staged = sorted(str(p) for p in folder.rglob("part-*")) if folder else []
        _record(self.record_dir, "write", self.fmt, self.options, overwrite=self.overwrite,
                rows=sorted(rows), staged=staged)

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        for batch in Path(self.record_dir).glob("rows-*.json"):
            batch.unlink()
        _record(self.record_dir, "abort", self.fmt, self.options)


def register_doubles(spark: Any, record_dir: Path) -> dict[str, type[WarehouseSourceDouble]]:
    """Register one double per native connector under its real format name, recording into
    ``record_dir``; returns them by adapter name."""
    from pyspark import cloudpickle

    from dvt_connect.adapters import ADAPTERS

    # the doubles travel to Spark's Python workers by value: tests/ is not importable there
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    record_dir.mkdir(parents=True, exist_ok=True)
    doubles: dict[str, type[WarehouseSourceDouble]] = {}
    for name in ("snowflake", "bigquery", "redshift"):
        native = ADAPTERS[name].native
        assert native is not None
        double = type(f"{name.capitalize()}SourceDouble".replace("Bigquery", "BigQuery"),
                      (WarehouseSourceDouble,),
                      {"format_name": native.spark_format, "record_dir": str(record_dir)})
        spark.dataSource.register(double)
        doubles[name] = double
    return doubles


def unregister_doubles(spark: Any, doubles: dict[str, type[WarehouseSourceDouble]]) -> None:
    """Take the doubles out of the session again, so no later test of the run (which shares the
    one session) meets a double where it expects the connector to be missing. PySpark has no
    API for it: the session's DataSourceManager map is edited through reflection."""
    manager = spark._jsparkSession.sessionState().dataSourceManager()
    fields = [f for f in manager.getClass().getDeclaredFields()
              if "runtimeDataSourceBuilders" in f.getName()]
    assert fields, "Spark's DataSourceManager changed: update unregister_doubles"
    fields[0].setAccessible(True)
    builders = fields[0].get(manager)
    for double in doubles.values():
        builders.remove(double.format_name.lower())
        assert not manager.dataSourceExists(double.format_name)


def records(record_dir: Path, kind: str) -> list[dict[str, Any]]:
    """What the doubles recorded, oldest first."""
    found = sorted(record_dir.glob(f"{kind}-*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(p.read_text()) for p in found]
