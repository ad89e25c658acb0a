"""What a replication run did, per stream, in dbt's ``run_results.json`` shape where it fits.

Written to ``$DVT_HOME/runs/<run id>/run_results.json`` for schedulers; ``--retry-failed`` reads
the latest one written for the same replication file.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dvt_connect import __version__
from dvt_connect.console import redact_document
from dvt_connect.errors import ConfigError, UsageError
from dvt_connect.paths import dvt_home

SCHEMA_VERSION = "https://dvt-connect/schemas/run-results/v1.json"
SUCCESS, ERROR, SKIPPED, PLANNED = "success", "error", "skipped", "planned"


def runs_dir() -> Path:
    return dvt_home() / "runs"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across concurrent runs."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ColumnCheck:
    """One column's checksum on each side: non-NULL values and the sum of their hashes."""

    column: str
    source_values: int
    source_sum: int
    target_values: int
    target_sum: int

    @property
    def ok(self) -> bool:
        return (self.source_values, self.source_sum) == (self.target_values, self.target_sum)

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "ok": self.ok,
                "source": {"values": self.source_values, "checksum": str(self.source_sum)},
                "target": {"values": self.target_values, "checksum": str(self.target_sum)}}


# Modes after which the target holds exactly the source's rows (the stream's read), so every
# checksum must match; merge and incremental only when the counts say the target holds no
# other rows.
EXACT_MODES = ("overwrite", "truncate")
KEYED_MODES = ("merge", "incremental")


@dataclass(frozen=True)
class Verification:
    """What ``--verify`` read again after the move: counts, and with ``checksum`` each
    column's checksum on both sides (an explicit second read)."""

    source_rows: int | None
    target_rows: int | None
    moved_rows: int
    mode: str
    error: str | None = None
    level: str = "counts"
    columns: tuple[ColumnCheck, ...] = ()
    # columns whose type no checksum covers (floating point, wall times, nested types)
    unchecked: tuple[str, ...] = ()

    @property
    def counts_ok(self) -> bool:
        source, target, moved = self.source_rows, self.target_rows, self.moved_rows
        if source is None or target is None:
            return False
        if self.mode in EXACT_MODES:
            return source == target == moved
        if self.mode == "append":  # the target also holds what was there before
            return source == moved and target >= moved
        if self.mode == "merge":
            return source == moved and target >= source
        if self.mode == "incremental":  # moved: the new rows only; the target holds them all
            return target >= source
        return source == moved  # backfill: the range's rows

    @property
    def compared(self) -> bool:
        """Whether the checksums must match (the target should hold the source's rows only)."""
        return self.level == "checksum" and (
            self.mode in EXACT_MODES
            or (self.mode in KEYED_MODES and self.source_rows == self.target_rows))

    @property
    def mismatched(self) -> list[str]:
        return [c.column for c in self.columns if not c.ok] if self.compared else []

    @property
    def ok(self) -> bool:
        return self.error is None and self.counts_ok and not self.mismatched

    def failure(self) -> str | None:
        """Why the stream failed verification, naming the column; None when it passed."""
        if self.error is not None:
            return f"verify ({self.level}) could not read: {self.error}"
        if not self.counts_ok:
            return (f"verify: source {self.source_rows} rows, target {self.target_rows}, moved "
                    f"{self.moved_rows} (mode {self.mode})")
        bad = [c for c in self.columns if c.column in self.mismatched]
        if bad:
            first = bad[0]
            return (f"verify: checksum of column `{first.column}` differs (source "
                    f"{first.source_values:,} values, checksum {first.source_sum}; target "
                    f"{first.target_values:,} values, checksum {first.target_sum})"
                    + (f"; also {', '.join(f'`{c.column}`' for c in bad[1:])}"
                       if len(bad) > 1 else ""))
        return None

    def summary(self) -> str:
        if not self.ok:
            return "MISMATCH" if self.error is None else "NOT READ"
        if self.level == "counts":
            return "counts ok"
        if not self.compared:
            return "counts ok (checksums not compared: the target holds other rows)"
        return f"checksums ok ({len(self.columns)} columns)" + (
            f", not covered: {', '.join(self.unchecked)}" if self.unchecked else "")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "level": self.level, "source_rows": self.source_rows,
                "target_rows": self.target_rows, "moved_rows": self.moved_rows,
                "error": self.error,
                **({"checksums_compared": self.compared,
                    "columns": [c.to_dict() for c in self.columns],
                    "not_checksummed": list(self.unchecked),
                    "mismatched_columns": self.mismatched} if self.level == "checksum" else {})}


@dataclass
class StreamResult:
    """One stream's outcome; ``plan`` is the transfer plan's description (dry run or not)."""

    stream: str
    status: str
    source_table: str | None
    target_table: str
    mode: str
    primary_key: tuple[str, ...] = ()
    update_key: str | None = None
    connector: str | None = None
    target_connector: str | None = None
    rows: int | None = None
    inserted: int | None = None
    updated: int | None = None
    # incremental: the target's MAX(update_key) the read started after (the dry run's mark),
    # where the read started (earlier by the lookback), and the mark after the run
    previous_high_water_mark: str | None = None
    read_from: str | None = None
    high_water_mark: str | None = None
    null_update_keys: int | None = None
    bytes: int | None = None
    bytes_kind: str | None = None
    partitions: int | None = None
    retries: int = 0
    estimated_rows: int | None = None
    plan_started: float | None = None
    plan_completed: float | None = None
    execute_started: float | None = None
    execute_completed: float | None = None
    thread: str | None = None
    message: str | None = None
    verify: Verification | None = None
    plan: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def execution_time(self) -> float:
        start = self.plan_started or self.execute_started
        end = self.execute_completed or self.plan_completed
        return max(0.0, end - start) if start is not None and end is not None else 0.0

    def to_dict(self) -> dict[str, Any]:
        timing = []
        if self.plan_started is not None:
            timing.append({"name": "plan", "started_at": _iso(self.plan_started),
                           "completed_at": _iso(self.plan_completed)})
        if self.execute_started is not None:
            timing.append({"name": "execute", "started_at": _iso(self.execute_started),
                           "completed_at": _iso(self.execute_completed)})
        return {
            "unique_id": f"stream.{self.stream}",
            "status": self.status,
            "timing": timing,
            "thread_id": self.thread,
            "execution_time": round(self.execution_time, 3),
            "adapter_response": {"rows_affected": self.rows} if self.rows is not None else {},
            "message": self.message,
            "failures": None,
            "stream": self.stream,
            "source_table": self.source_table,
            "target_table": self.target_table,
            "mode": self.mode,
            "primary_key": list(self.primary_key),
            "update_key": self.update_key,
            "connector": self.connector,
            "target_connector": self.target_connector,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "previous_high_water_mark": self.previous_high_water_mark,
            "read_from": self.read_from,
            "high_water_mark": self.high_water_mark,
            "null_update_keys": self.null_update_keys,
            "bytes": self.bytes,
            "bytes_kind": self.bytes_kind,
            "partitions": self.partitions,
            "retries": self.retries,
            "estimated_rows": self.estimated_rows,
            "verify": self.verify.to_dict() if self.verify is not None else None,
            "warnings": list(self.warnings),
            **({"plan": self.plan} if self.plan is not None else {}),
        }


@dataclass
class RunResults:
    """The whole run. ``path`` is where run_results.json was written (None for a dry run)."""

    run_id: str
    replication_file: str
    started: float
    completed: float
    results: list[StreamResult]
    args: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    path: Path | None = None

    @property
    def failed(self) -> list[StreamResult]:
        return [r for r in self.results if r.status == ERROR]

    @property
    def succeeded(self) -> list[StreamResult]:
        return [r for r in self.results if r.status == SUCCESS]

    @property
    def verify_failed(self) -> list[StreamResult]:
        return [r for r in self.results if r.verify is not None and not r.verify.ok]

    @property
    def rows(self) -> int:
        return sum(r.rows or 0 for r in self.results)

    @property
    def elapsed(self) -> float:
        return self.completed - self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "metadata": {
                "dvt_schema_version": SCHEMA_VERSION,
                "dvt_version": __version__,
                "generated_at": _iso(self.completed),
                "invocation_id": self.run_id,
            },
            "results": [r.to_dict() for r in self.results],
            "elapsed_time": round(self.elapsed, 3),
            "args": {"replication_file": self.replication_file, "dry_run": self.dry_run,
                     **self.args},
        }

    def write(self, directory: Path | None = None) -> Path:
        """Write run_results.json atomically (a scheduler never reads half a file)."""
        folder = (directory or runs_dir()) / self.run_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "run_results.json"
        tmp = folder / ".run_results.json.tmp"
        tmp.write_text(json.dumps(redact_document(self.to_dict()), indent=2) + "\n",
                       encoding="utf-8")
        os.replace(tmp, path)
        self.path = path
        return path


def last_failed(replication_file: str, directory: Path | None = None) -> tuple[Path, list[str]]:
    """The streams that failed in the latest run of ``replication_file`` (``--retry-failed``)."""
    folder = directory or runs_dir()
    candidates = sorted(folder.glob("*/run_results.json"), reverse=True) if folder.is_dir() \
        else []
    for path in candidates:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read a previous run's results ({exc}).", path=path,
                              hint="Delete the folder or run without --retry-failed.") from None
        args = doc.get("args") or {}
        if args.get("replication_file") != replication_file or args.get("dry_run"):
            continue
        return path, [str(r["stream"]) for r in doc.get("results", [])
                      if r.get("status") == ERROR]
    raise UsageError(f"--retry-failed: no earlier run of `{replication_file}` in {folder}.",
                     hint="Run it once without --retry-failed.")
