"""The column plan: each column's source type, Spark type, target type, and whether every value
survives (exact) or not (lossy, with why), decided before anything is created.

Pure: it reads each database's :class:`~dvt_connect.databases.spec.TypeMap` and the target's
DDL plan (:func:`~dvt_connect.connectors.jdbc.ddl.plan_columns`), so ``--dry-run`` prints it and
tests need no database. Two steps, because what the read asks Spark for depends on the target:
:func:`read_overrides` (before the read is planned: canonical text where the same database gets
the declared type back, a number for YEAR) and :func:`plan_types` (with the final Spark schema).
A lossy column is refused unless ``--allow-lossy COLUMN`` names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvt_connect.databases.spec import Database, TypeMap, TypeRule
from dvt_connect.errors import TransferError

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

# Spark's decimal holds 38 digits.
SPARK_MAX_DECIMAL = 38
_DECIMALS = ("numeric", "decimal", "decimal unsigned", "number")


@dataclass(frozen=True)
class SourceType:
    """A source column as its driver describes it."""

    name: str
    type_name: str
    precision: int = 0
    scale: int = 0

    @property
    def wide(self) -> bool:
        """A decimal Spark cannot hold: no declared precision, or more than 38 digits."""
        return self.type_name.lower() in _DECIMALS and not 0 < self.precision <= SPARK_MAX_DECIMAL

    def shown(self) -> str:
        name = self.type_name.lower()
        if name in _DECIMALS:
            return f"{name}({self.precision},{self.scale})" if self.precision > 0 else name
        return name

    def fill(self, template: str) -> str:
        if self.precision <= 0:
            template = re.sub(r"\(\{p\}(,\{s\})?\)", "", template)
        return template.format(name=self.type_name.lower(), p=self.precision, s=self.scale)


@dataclass(frozen=True)
class ColumnType:
    """One line of the column plan."""

    name: str
    source: str
    spark: str
    target: str
    exact: bool
    why: str = ""
    allowed: bool = False  # lossy, and the user said so with --allow-lossy

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source_type": self.source, "spark_type": self.spark,
                "target_type": self.target, "exact": self.exact, "why": self.why,
                "allowed_lossy": self.allowed}


@dataclass(frozen=True)
class ColumnPlan:
    columns: tuple[ColumnType, ...] = ()
    # target column types kept from the source (same database), by column
    declared: Mapping[str, str] = field(default_factory=dict)

    @property
    def refused(self) -> tuple[ColumnType, ...]:
        return tuple(c for c in self.columns if not c.exact and not c.allowed)

    def describe(self) -> list[dict[str, Any]]:
        return [c.describe() for c in self.columns]

    def check(self, target: str) -> None:
        """Refuse lossy columns the user did not allow: one error naming each, its types, and
        the way out."""
        refused = self.refused
        if not refused:
            return
        lines = "; ".join(f"`{c.name}` is {c.source} -> Spark {c.spark} -> {c.target}: {c.why}"
                          for c in refused)
        first = refused[0].name
        raise TransferError(
            f"refused: moving to `{target}` would change values of {len(refused)} column(s): "
            f"{lines}.",
            hint=f"Cast the column in --query (for example `CAST({first} AS ...)` to a type "
                 f"that holds every value), or accept the loss with --allow-lossy {first}.",
        )


def same_types(source: Database, target: Database | None) -> bool:
    """Whether the target is the same database (family) as the source: declared types kept."""
    return target is not None and bool(source.types.rules) and source.types is target.types


def _rule(types: TypeMap, column: SourceType) -> TypeRule | None:
    return types.rule(column.type_name, wide=column.wide)


def read_overrides(source: Database, columns: Sequence[SourceType], target: Database | None,
                   allow_lossy: Sequence[str] = ()) -> dict[str, str]:
    """Column -> the Spark type the read must ask for (``customSchema``)."""
    same = same_types(source, target)
    allowed = {a.lower() for a in allow_lossy}
    out: dict[str, str] = {}
    for column in columns:
        rule = _rule(source.types, column)
        if rule is None:
            continue
        if same and rule.same_read_as and column.name.lower() not in allowed:
            out[column.name] = rule.same_read_as
        elif rule.read_as:
            out[column.name] = rule.read_as
    return out


def declared_types(source: Database, columns: Sequence[SourceType],
                   target: Database | None, read_as: Mapping[str, str]) -> dict[str, str]:
    """Column -> the source's declared type, for a target of the same database."""
    if not same_types(source, target):
        return {}
    out: dict[str, str] = {}
    for column in columns:
        rule = _rule(source.types, column)
        if rule is None or rule.declared is None:
            continue
        if rule.same_read_as and column.name not in read_as:
            continue  # allowed lossy: travels as Spark reads it
        out[column.name] = column.fill(rule.declared)
    return out


def plan_types(source: Database | None, columns: Sequence[SourceType], schema: StructType,
               target: Database | None, *, target_format: str | None = None,
               read_as: Mapping[str, str] | None = None,
               allow_lossy: Sequence[str] = ()) -> ColumnPlan:
    """The column plan for ``schema`` (the read's Spark schema) into ``target`` (a database) or
    files of ``target_format``. Target types come from the target's own DDL plan, so a column
    the target cannot hold fails here (before anything is created)."""
    from dvt_connect.connectors.jdbc.ddl import dialect_for, plan_columns

    read_as = dict(read_as or {})
    by_name = {c.name: c for c in columns}
    declared = declared_types(source, columns, target, read_as) if source is not None else {}
    if target is not None:
        table = plan_columns(schema, dialect_for(target), declared=declared)
        targets = {c.name: c.sql_type.lower() for c in table.columns}
    else:
        targets = {f.name: f"{target_format or 'files'} {f.dataType.simpleString()}"
                   for f in schema.fields}
    allowed = {a.lower() for a in allow_lossy}
    same = source is not None and same_types(source, target)
    plan: list[ColumnType] = []
    for f in schema.fields:
        spark = f.dataType.simpleString()
        column = by_name.get(f.name)
        if source is None or column is None:
            plan.append(ColumnType(f.name, spark, spark, targets[f.name], True,
                                   "the file's own type"))
            continue
        rule = _rule(source.types, column)
        if rule is None:
            exact, why = True, "Spark's own mapping"
        elif same and rule.same_read_as and f.name in read_as:
            exact, why = True, f"carried as text into the same {source.title} type"
        else:
            exact, why = rule.exact, rule.why
        plan.append(ColumnType(f.name, column.shown(), spark, targets[f.name], exact, why,
                               allowed=not exact and f.name.lower() in allowed))
    return ColumnPlan(tuple(plan), declared)


def nan_guard_message(column: str, value: str, title: str) -> str:
    return (f"column `{column}` holds {value}, which {title} cannot store (its FLOAT and "
            "DOUBLE have no NaN or infinities). Map it in --query (e.g. NULLIF or CASE) or "
            "write to a target that holds it.")
