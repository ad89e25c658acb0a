"""`dvt run --verify`: read both sides again after the move and compare, per stream.

``counts`` (the default) counts the source and the target rows. ``checksum`` also computes, in
each database (in Spark for files), an order-independent checksum of every column: the sum of a
32-bit hash of each value's canonical text, with the count of non-NULL values. The canonical
text and the hash are each database's facts (:class:`~dvt_connect.databases.spec.Checksum`), so
the same value gives the same text in PostgreSQL, MariaDB and Spark; the classes of a column's
Spark type pick the template. Both are explicit second reads, so off by default.

The SQL building is pure (:func:`checksum_select`); :func:`verify_stream` runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dvt_connect.connectors.base import ReadRequest
from dvt_connect.connectors.selection import ConnectorType
from dvt_connect.databases.spec import Checksum
from dvt_connect.databases.spec import Database as Facts
from dvt_connect.replication.results import ColumnCheck, Verification

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType

    from dvt_connect.config import Connection, Project
    from dvt_connect.connectors.base import BaseConnector
    from dvt_connect.replication.plan import StreamPlan
    from dvt_connect.transfer.run import TransferPlan

LEVELS = ("counts", "checksum")
# Spark's own SQL, for files (Spark reads them, so Spark computes their checksums).
SPARK_CHECKSUM = Checksum(
    hash="CAST(conv(substring(md5(CAST({text} AS BINARY)), 1, 8), 16, 10) AS BIGINT)",
    text={
        "integer": "CAST({col} AS STRING)",
        "decimal": "CAST(CAST({col} AS DECIMAL({p}, {s})) AS STRING)",
        "string": "{col}",
        "boolean": "CASE WHEN {col} THEN '1' ELSE '0' END",
        "date": "date_format({col}, 'yyyy-MM-dd')",
        # the session runs in UTC: an instant's UTC wall time, to the microsecond
        "timestamp": "date_format({col}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')",
        "binary": "{col}",
    },
)
_INTEGERS = ("byte", "short", "integer", "long")


@dataclass(frozen=True)
class Column:
    """A column to checksum: its name, its Spark type class, and a decimal's precision/scale."""

    name: str
    kind: str | None
    precision: int = 0
    scale: int = 0


def columns_of(fields: Sequence[tuple[str, DataType]]) -> list[Column]:
    """Each column's type class from its Spark type (None: a class no checksum covers)."""
    columns = []
    for name, data_type in fields:
        kind = data_type.typeName()
        if kind in _INTEGERS:
            columns.append(Column(name, "integer"))
        elif kind == "decimal":
            columns.append(Column(name, "decimal", data_type.precision,  # type: ignore[attr-defined]
                                  data_type.scale))  # type: ignore[attr-defined]
        elif kind in ("string", "boolean", "date", "timestamp", "binary"):
            columns.append(Column(name, kind))
        elif kind.startswith(("varchar", "char")):
            columns.append(Column(name, "string"))
        else:  # floating point, wall times, arrays, maps: their text differs between databases
            columns.append(Column(name, None))
    return columns


def checksum_terms(checksum: Checksum, columns: Sequence[Column],
                   quote: Any) -> list[str]:
    """``COUNT(*)`` then, per covered column, ``COUNT(col)`` and ``SUM(hash(text(col)))``."""
    terms = ["COUNT(*)"]
    for column in columns:
        template = checksum.text.get(column.kind or "")
        if template is None:
            continue
        col = quote(column.name)
        text = template.format(col=col, p=column.precision, s=column.scale)
        terms += [f"COUNT({col})", f"SUM({checksum.hash.format(text=text)})"]
    return terms


def checksum_select(facts: Facts, columns: Sequence[Column], relation: str) -> str:
    """The one query a database runs for a side's checksums (``relation``: a table or a
    ``SELECT``, which becomes a derived table)."""
    assert facts.checksum is not None
    terms = checksum_terms(facts.checksum, columns, facts.quote_identifier)
    source = f"({relation}) dvt_v" if relation.lstrip().upper().startswith("SELECT") \
        else relation
    return f"SELECT {', '.join(terms)} FROM {source}"


def covered(columns: Sequence[Column], *checksums: Checksum) -> list[Column]:
    return [c for c in columns if all((c.kind or "") in k.text for k in checksums)]


def checksum_of(connection: Connection) -> Checksum | None:
    return SPARK_CHECKSUM if connection.is_files else connection.facts.checksum


def check_level(level: str, source: Connection, target: Connection) -> None:
    """``--verify checksum`` needs both sides to compute checksums: refused up front."""
    from dvt_connect.errors import UsageError

    if level not in LEVELS:
        raise UsageError(f"--verify takes {' or '.join(LEVELS)}, not `{level}`.")
    if level == "checksum":
        for side in (source, target):
            if checksum_of(side) is None:
                raise UsageError(
                    f"--verify checksum: {side.facts.title} output `{side.name}` has no "
                    "checksum SQL in dvt yet; use --verify (counts).")


def verify_stream(spark: SparkSession, project: Project, source: Connection,
                  target: Connection, stream: StreamPlan, plan: TransferPlan,
                  source_connector: BaseConnector, moved: int, level: str) -> Verification:
    """Read both sides again (the source as the stream reads it, without an incremental run's
    predicate; the whole target table) and compare. Raises what the reads raise."""
    from dvt_connect.connectors.factory import ConnectorFactory
    from dvt_connect.transfer.run import plan_backfill

    factory = ConnectorFactory(spark, project.buckets, emit_warnings=False)
    mode = stream.mode
    request = stream.read_request()
    if mode == "backfill":  # the range's rows only
        request = plan_backfill(source, request, stream.write_request())
    if plan.read.connector in (ConnectorType.JDBC, ConnectorType.FILES,
                               ConnectorType.LAKEHOUSE) \
            and mode not in ("incremental", "backfill"):
        source_reader, source_plan = source_connector, plan.read
    else:
        source_reader = factory.for_source(source, request,
                                           mode="auto" if source.is_files else "jdbc")
        source_plan = source_reader.plan_read(replace(request, partitions=1)
                                              if not source.is_files else request)
    target_request = ReadRequest(table=stream.target_table)
    target_reader = factory.for_source(target, target_request,
                                       mode="auto" if target.is_files else "jdbc")
    target_plan = target_reader.plan_read(target_request if target.is_files
                                          else replace(target_request, partitions=1))
    if level == "counts":
        source_rows = source_reader.load(source_plan).count()
        target_rows = target_reader.load(target_plan).count()
        return Verification(source_rows, target_rows, moved, mode)
    source_df = source_reader.load(source_plan)
    columns = covered(columns_of([(f.name, f.dataType) for f in source_df.schema.fields]),
                      *(k for k in (checksum_of(source), checksum_of(target)) if k))
    source_sums = _side(spark, source, source_plan.sql, source_df, columns)
    target_sums = _side(spark, target, target_plan.sql,
                        target_reader.load(target_plan), columns)
    source_rows, target_rows = source_sums[0], target_sums[0]
    checks = tuple(
        ColumnCheck(c.name, source_sums[1 + 2 * i], source_sums[2 + 2 * i],
                    target_sums[1 + 2 * i], target_sums[2 + 2 * i])
        for i, c in enumerate(columns))
    names = {c.name for c in columns}
    unchecked = tuple(f.name for f in source_df.schema.fields if f.name not in names)
    return Verification(source_rows, target_rows, moved, mode, level="checksum",
                        columns=checks, unchecked=unchecked)


def _side(spark: SparkSession, connection: Connection, relation: str, df: DataFrame,
          columns: Sequence[Column]) -> list[int]:
    """COUNT(*), then per column COUNT(col) and the hash sum: in the database for a database,
    in Spark for files."""
    if connection.is_files:
        terms = checksum_terms(SPARK_CHECKSUM, columns,
                               lambda n: "`" + n.replace("`", "``") + "`")
        values = list(df.selectExpr(*terms).collect()[0])
        return [int(v) if v is not None else 0 for v in values]
    from dvt_connect.connectors.jdbc.session import JdbcSession

    with JdbcSession(spark, connection) as session:
        row = session.query(checksum_select(connection.facts, columns, relation))[0]
    return [int(v) if v is not None else 0 for v in row]
