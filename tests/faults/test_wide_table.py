"""Finding 3 of the issue (priority 2): the stats expression stays flat however wide the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.transfer.run import transfer
from faults.conftest import PG, psql, unique

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]

COLUMNS = 1000
ROWS = 40


def test_a_thousand_column_table_moves_to_parquet_with_exact_stats(
        spark: Any, tmp_path: Path) -> None:
    table = unique("faults_wide")
    columns = ", ".join(f"c{i} int" for i in range(COLUMNS))
    # every tenth column NULL in odd rows: the payload counts only the values present
    values = ", ".join(f"CASE WHEN g % 2 = 1 AND {i} % 10 = 0 THEN NULL ELSE g + {i} END"
                       for i in range(COLUMNS))
    psql(f"CREATE TABLE {table} (id int, {columns}); "
         f"INSERT INTO {table} SELECT g, {values} FROM generate_series(1, {ROWS}) g; "
         f"ANALYZE {table};")
    try:
        source = parse_connection("pg", {"type": "postgres", "host": PG["host"],
                                         "port": PG["port"], "user": PG["user"],
                                         "password": PG["password"] or "",
                                         "dbname": PG["database"]},
                                  path=tmp_path / "profiles.yml", key="pg")
        lake = parse_connection("lake", {"type": "files", "path": str(tmp_path / "lake")},
                                path=tmp_path / "profiles.yml", key="lake")
        stats = transfer(spark, source, lake, ReadRequest(table=TableRef(table)),
                         WriteRequest(table=TableRef("wide")))
        assert stats.rows == ROWS
        written = sum(f.stat().st_size for f in (tmp_path / "lake" / "wide").rglob("*.parquet"))
        assert stats.bytes == written
        back = spark.read.parquet(str(tmp_path / "lake" / "wide"))
        assert len(back.columns) == COLUMNS + 1 and back.count() == ROWS

        # the payload measure itself, on the same 1,001 columns: 4 bytes per value present
        from pyspark.sql import Observation

        from dvt_connect.transfer.run import _measures

        observation = Observation("wide")
        back.observe(observation, *_measures(back.schema)).collect()
        nulls = (ROWS // 2) * (COLUMNS // 10)
        assert observation.get == {"rows": ROWS,
                                   "payload_bytes": 4 * (ROWS * (COLUMNS + 1) - nulls)}
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")
