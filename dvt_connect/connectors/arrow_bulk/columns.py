"""Columns in Arrow: what each column is selected as, and the conversions that make a driver's
Arrow batch exactly the batch Spark's JDBC source would have produced.

The Spark schema of a native read is the JDBC path's own (``JDBCConnector.load(plan).schema``),
so both paths agree on every type by construction; this module only has to produce values of
those types. A :class:`ColumnRead` says how one column is selected (a SQL expression, chosen by
the dialect) and converted (a ``convert`` kind below); everything here runs inside Spark tasks
and uses pyarrow compute only, never a Python loop per value, except for binary columns on the
write side (hex text).

Conversions:

- ``same``: cast to the target type when it differs (int widths, list field names, extension
  storage such as uuid/json);
- ``scaled``: an integer holding ``value * 10**scale`` (computed by the database) reinterpreted
  as ``decimal128(p, s)`` with no arithmetic in Python;
- ``decimal``: text or a wider decimal cast to the target decimal (exact, or an error);
- ``wall_time``: a timestamp without time zone read into Spark's ``timestamp`` (an instant):
  JDBC reads the wall time in the JVM's default time zone, so the same zone is assumed here;
- ``flag``: an integer 0/1 column (MySQL ``TINYINT(1)``) as a boolean.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

CONVERSIONS = ("same", "scaled", "decimal", "wall_time", "flag")
# a BulkRead option: the driver library file a task reads through where that file exists
# (:mod:`dvt_connect.reader_libraries`), else the installed package
READER_LIBRARY = "reader_library"
READER_PLATFORM = "reader_platform"  # the platform it is built for (a task elsewhere skips it)


@dataclass(frozen=True)
class ColumnRead:
    """How one column of a native read is selected and converted."""

    name: str
    expr: str
    convert: str = "same"
    # the value itself in the database's own type, where ``expr`` encodes it for Arrow (a
    # ``scaled`` integer): what a pipe from this database into its own bulk loader selects
    value: str = ""

    def __post_init__(self) -> None:
        if self.convert not in CONVERSIONS:
            raise ValueError(f"unknown conversion `{self.convert}`")


@dataclass(frozen=True)
class BulkRead:
    """Everything a Spark task needs to read its partition, as JSON (no secret: the password
    travels separately, in an option Spark redacts)."""

    dialect: str
    params: dict[str, Any]
    queries: tuple[str, ...]
    columns: tuple[ColumnRead, ...]
    schema_json: str
    time_zone: str = "UTC"
    batch_rows: int = 65_536
    options: dict[str, str] = field(default_factory=dict)
    # the same partitions selecting each column's ``value`` where it has one (else its expr)
    value_queries: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BulkRead:
        data = json.loads(text)
        data["queries"] = tuple(data["queries"])
        data["value_queries"] = tuple(data.get("value_queries", ()))
        data["columns"] = tuple(ColumnRead(**c) for c in data["columns"])
        return cls(**data)

    def spark_schema(self) -> Any:
        from pyspark.sql.types import StructType

        return StructType.fromJson(json.loads(self.schema_json))

    def arrow_schema(self) -> pa.Schema:
        return arrow_schema_of(self.spark_schema())


def arrow_schema_of(schema: Any) -> pa.Schema:
    """The Arrow schema Spark expects from a Python data source for ``schema`` (the function
    PySpark's own worker checks batches against)."""
    import inspect

    from pyspark.sql.pandas.types import to_arrow_schema

    # PySpark 4.3 takes a zone, 4.1 a flag for UTC: the same schema either way
    if "timezone" in inspect.signature(to_arrow_schema).parameters:
        return to_arrow_schema(schema, timezone="UTC")
    return to_arrow_schema(schema, timestamp_utc=True)  # type: ignore[call-arg]  # (4.1)


def conform(batch: pa.RecordBatch, target: pa.Schema, columns: Sequence[ColumnRead],
            time_zone: str) -> pa.RecordBatch:
    """``batch`` (columns in ``columns`` order) as exactly ``target``."""
    import pyarrow as pa

    arrays = [_convert(batch.column(i), target.field(i).type, read.convert, time_zone)
              for i, read in enumerate(columns)]
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _convert(array: pa.Array, to: pa.DataType, kind: str, time_zone: str) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    if kind == "scaled":
        if not pa.types.is_integer(array.type):
            return array.cast(to)
        wide = array.cast(pa.int64()).cast(pa.decimal128(19, 0))
        return pa.Array.from_buffers(to, len(wide), wide.buffers(), wide.null_count, wide.offset)
    if kind == "wall_time":
        if pa.types.is_timestamp(array.type) and array.type.tz is None:
            array = pc.assume_timezone(array.cast(pa.timestamp("us")), time_zone,
                                       ambiguous="earliest", nonexistent="latest")
        return array.cast(to)
    if kind == "flag":
        if pa.types.is_boolean(array.type):
            return array
        return pc.not_equal(array, 0)
    if array.type == to:
        return array
    return array.cast(to)


# ---- the write side: a Spark batch as CSV a database's bulk loader reads ------------------

@dataclass(frozen=True)
class CsvLayout:
    """How a dialect's bulk loader reads CSV: what booleans, floats, timestamps and binaries
    become before Arrow's CSV writer runs, and the text NULL is written as."""

    null: str = ""
    booleans_as_int: bool = False
    float32_as_float64: bool = False
    timestamps_as_text: bool = False
    binary_prefix: str = ""


def csv_ready(batch: pa.RecordBatch, layout: CsvLayout) -> pa.RecordBatch:
    """``batch`` with every column in a type Arrow's CSV writer renders as the loader reads."""
    import pyarrow as pa

    arrays: list[pa.Array] = []
    for array in batch.columns:
        t = array.type
        if pa.types.is_boolean(t) and layout.booleans_as_int:
            array = array.cast(pa.int8())
        elif pa.types.is_float32(t) and layout.float32_as_float64:
            array = array.cast(pa.float64())
        elif pa.types.is_timestamp(t) and layout.timestamps_as_text:
            # without its zone an instant is its UTC wall time, which the CSV writer prints as
            # `YYYY-MM-DD HH:MM:SS.ffffff`
            array = array.cast(pa.timestamp("us"))
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            prefix = layout.binary_prefix
            array = pa.array([None if v is None else prefix + v.hex()
                              for v in array.to_pylist()], pa.string())
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def csv_bytes(batch: pa.RecordBatch, layout: CsvLayout) -> bytes:
    """One batch as CSV: every string quoted (so an empty string is ``""`` and the text NULL
    is ``"NULL"``), numbers, dates and times bare, NULL as ``layout.null`` unquoted, no header.
    Quoting every value cost MariaDB's LOAD DATA about 9% more of its time."""
    import pyarrow as pa
    import pyarrow.csv as csv

    sink = pa.BufferOutputStream()
    options = csv.WriteOptions(include_header=False, quoting_style="needed",
                               null_string=layout.null)
    csv.write_csv(csv_ready(batch, layout), sink, options)
    return bytes(sink.getvalue())


def writable(data_type: Any) -> bool:
    """Whether a Spark type goes through the CSV bulk path (nested types go through JDBC)."""
    from pyspark.sql import types as t

    return isinstance(data_type, (t.BooleanType, t.ByteType, t.ShortType, t.IntegerType,
                                  t.LongType, t.FloatType, t.DoubleType, t.DecimalType,
                                  t.StringType, t.BinaryType, t.DateType, t.TimestampType,
                                  t.TimestampNTZType))
