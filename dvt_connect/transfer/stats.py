"""What a transfer measured: counted in the pass that moved the data, never estimated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dvt_connect.connectors.base import ConnectorType


@dataclass(frozen=True)
class TransferStats:
    """Stats of one transfer.

    ``rows`` comes from an Observation on the DataFrame the write consumed (the same pass, NOTES
    #1). ``bytes`` is measured (NOTES #3): for file targets the size of the files written; for
    database targets the summed size of the values that went through (strings and binaries by
    their byte length, fixed-width types by their width); ``bytes_kind`` says which.
    """

    source: str
    target: str
    connector: ConnectorType
    reason: str
    target_connector: ConnectorType
    rows: int
    bytes: int | None
    bytes_kind: str | None
    partitions: int
    planning_seconds: float
    moving_seconds: float
    retries: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)
    # the column plan: name, source/Spark/target type, exact or lossy and why
    columns: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    # merge/incremental: rows inserted and matched (updated) by key, counted under the target's
    # lock; the target's high-water mark afterwards; where the read started; source rows whose
    # update key is NULL (None: not asked or not known)
    mode: str = "overwrite"
    inserted: int | None = None
    updated: int | None = None
    high_water_mark: str | None = None
    read_from: str | None = None
    null_update_keys: int | None = None
    # planning's parts in seconds (Spark start, connectors and catalog, read plan, types, route)
    planning_parts: Mapping[str, float] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float:
        return self.planning_seconds + self.moving_seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.moving_seconds if self.moving_seconds > 0 else 0.0

    @property
    def mb_per_second(self) -> float | None:
        if self.bytes is None or self.moving_seconds <= 0:
            return None
        return self.bytes / 1024 / 1024 / self.moving_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "connector": self.connector.value,
            "reason": self.reason,
            "target_connector": self.target_connector.value,
            "rows": self.rows,
            "bytes": self.bytes,
            "bytes_kind": self.bytes_kind,
            "partitions": self.partitions,
            "planning_seconds": round(self.planning_seconds, 3),
            "planning_parts": dict(self.planning_parts),
            "moving_seconds": round(self.moving_seconds, 3),
            "duration_seconds": round(self.duration_seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "mb_per_second": None if self.mb_per_second is None else round(self.mb_per_second, 3),
            "retries": self.retries,
            "mode": self.mode,
            "inserted": self.inserted,
            "updated": self.updated,
            "high_water_mark": self.high_water_mark,
            "read_from": self.read_from,
            "null_update_keys": self.null_update_keys,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "columns": [dict(c) for c in self.columns],
        }
