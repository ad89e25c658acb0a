"""Round trips into Parquet with value-level equality, checked with pyarrow (not Spark):
PostgreSQL -> Parquet and Derby -> Parquet."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.connectors.base import TableRef, WriteRequest
from dvt_connect.connectors.files import FilesConnector
from dvt_connect.connectors.jdbc.writer import write_jdbc

from .fixtures import (
    COLUMNS,
    create_pg_typed,
    derby_connection,
    expected_rows,
    files_connection,
    narrow_row,
    normalize,
    pg_connection,
    spark_read,
    typed_dataframe,
)

pytestmark = [pytest.mark.spark]


def parquet_rows(folder: Path) -> tuple[list[dict[str, Any]], Any]:
    import pyarrow.parquet as pq

    table = pq.read_table(str(folder))
    rows = sorted(table.to_pylist(), key=lambda r: r["id"])
    return rows, table.schema


def data_bytes(folder: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        total += sum(os.path.getsize(Path(root, f)) for f in files
                     if not f.startswith((".", "_")))
    return total


@pytest.mark.postgres
def test_postgres_to_parquet_keeps_every_value(spark: Any, pg: dict[str, Any], pg_name: Any,
                                               tmp_path: Path) -> None:
    source = pg_name("src")
    create_pg_typed(pg, source)
    df = spark_read(spark, pg_connection(pg), source)
    lake = FilesConnector(spark, files_connection(tmp_path / "lake"))

    outcome = lake.write_dataframe(df, WriteRequest(table=TableRef("typed")))

    folder = tmp_path / "lake" / "typed"
    rows, schema = parquet_rows(folder)
    assert [normalize(r) for r in rows] == [normalize(r) for r in expected_rows()]
    types = {f.name: str(f.type) for f in schema}
    assert types["dec_max"] == "decimal128(38, 0)"
    assert types["dec_frac"] == "decimal128(38, 38)"
    assert types["tstz"] == "timestamp[us, tz=UTC]"
    assert types["ts"] == "timestamp[us]"
    assert types["f32"] == "float"
    assert outcome.bytes_written == data_bytes(folder) > 0
    assert outcome.location.endswith("/lake/typed")


@pytest.mark.postgres
def test_postgres_empty_table_to_parquet(spark: Any, pg: dict[str, Any], pg_name: Any,
                                         tmp_path: Path) -> None:
    source = pg_name("src")
    create_pg_typed(pg, source, rows=False)
    df = spark_read(spark, pg_connection(pg), source)

    FilesConnector(spark, files_connection(tmp_path)).write_dataframe(
        df, WriteRequest(table=TableRef("empty")))

    rows, schema = parquet_rows(tmp_path / "empty")
    assert rows == []
    assert schema.names == list(COLUMNS)
    assert str(schema.field("dec_max").type) == "decimal128(38, 0)"


def test_derby_to_parquet_keeps_every_value(spark: Any, tmp_path: Path) -> None:
    derby = derby_connection(tmp_path / "derby" / "db")
    # seed Derby through our writer (Derby's DECIMAL stops at 31 digits)
    write_jdbc(spark, derby, typed_dataframe(spark, narrow_decimals=31),
               WriteRequest(table=TableRef("TYPED")))
    df = spark_read(spark, derby, TableRef("TYPED", "APP"))
    lake = FilesConnector(spark, files_connection(tmp_path / "lake"))

    outcome = lake.write_dataframe(df, WriteRequest(table=TableRef("from_derby")))

    rows, schema = parquet_rows(tmp_path / "lake" / "from_derby")
    # Derby has no time-zone type: instants are stored as their UTC wall time
    got = [normalize(r, instants_as_utc=["tstz"]) for r in rows]
    assert got == [normalize(narrow_row(r, 31)) for r in expected_rows()]
    assert str(schema.field("dec_max").type) == "decimal128(31, 0)"
    assert outcome.bytes_written == data_bytes(tmp_path / "lake" / "from_derby")
