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
class Verification:
    """Counts read again after the move (``--verify``): an explicit second read."""

    source_rows: int | None
    target_rows: int | None
    moved_rows: int
    mode: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        if self.error is not None or self.source_rows is None:
            return False
        if self.mode == "overwrite":
            return self.source_rows == self.target_rows == self.moved_rows
        # append: the target also holds what was there before
        return self.source_rows == self.moved_rows and (self.target_rows or 0) >= self.moved_rows

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "source_rows": self.source_rows, "target_rows": self.target_rows,
                "moved_rows": self.moved_rows, "error": self.error}


@dataclass
class StreamResult:
    """One stream's outcome; ``plan`` is the transfer plan's description (dry run or not)."""

    stream: str
    status: str
    source_table: str | None
    target_table: str
    mode: str
    connector: str | None = None
    target_connector: str | None = None
    rows: int | None = None
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
            "connector": self.connector,
            "target_connector": self.target_connector,
            "rows": self.rows,
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
