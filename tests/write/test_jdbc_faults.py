"""Faults and modes of the JDBC writer against real PostgreSQL and MariaDB: a transfer that fails
mid-write (or at the swap) leaves the target exactly as it was and no staging table behind;
append is all-or-nothing; our checks fail before anything is created."""

from __future__ import annotations

from typing import Any

import pytest

from dvt_connect.connectors.base import TableRef, WriteRequest
from dvt_connect.connectors.jdbc.writer import is_retry_safe, write_jdbc
from dvt_connect.errors import TransferError, UsageError

from .fixtures import (
    mariadb_client,
    mariadb_columns,
    mariadb_connection,
    mariadb_rows,
    pg_client,
    pg_columns,
    pg_connection,
    pg_rows,
)

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]

ROWS = 2_000


def failing_frame(spark: Any, *, fail_at: int | None = ROWS - 1) -> Any:
    """ROWS rows in 4 partitions; the row ``fail_at`` (in the last partition) raises, after the
    first partitions have been inserted and committed into the staging table."""
    from pyspark.sql import functions as F

    df = spark.range(0, ROWS, numPartitions=4)
    label = F.concat(F.lit("new-"), F.col("id").cast("string"))
    if fail_at is not None:
        label = F.when(F.col("id") == fail_at, F.raise_error(F.lit("boom: row failed"))) \
            .otherwise(label)
    return df.select(F.col("id").cast("int").alias("id"), label.alias("label"))


def make_pg_target(pg: dict[str, Any], table: str) -> None:
    with pg_client(pg) as conn:
        conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, label varchar(40), "
                     "extra text DEFAULT 'kept')")
        conn.execute(f"INSERT INTO {table} (id, label) VALUES (1, 'old-1'), (2, 'old-2')")


def make_maria_target(db: dict[str, Any], table: str) -> None:
    with mariadb_client(db) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, label VARCHAR(40), "
                    "extra TEXT DEFAULT 'kept')")
        cur.execute(f"INSERT INTO {table} (id, label) VALUES (1, 'old-1'), (2, 'old-2')")


OLD_ROWS = [{"id": 1, "label": "old-1", "extra": "kept"},
            {"id": 2, "label": "old-2", "extra": "kept"}]


@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_pg_failure_mid_write_leaves_target_unchanged(spark: Any, pg: dict[str, Any],
                                                      pg_name: Any, no_stage_left: None,
                                                      mode: str) -> None:
    target = pg_name("fault")
    make_pg_target(pg, target)
    before = pg_columns(pg, target)

    with pytest.raises(Exception, match="boom: row failed"):
        write_jdbc(spark, pg_connection(pg), failing_frame(spark),
                   WriteRequest(table=TableRef(target), mode=mode, batch_size=100))

    assert pg_rows(pg, target) == OLD_ROWS
    assert pg_columns(pg, target) == before


@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_mariadb_failure_mid_write_leaves_target_unchanged(spark: Any, mariadb: dict[str, Any],
                                                           maria_name: Any, no_stage_left: None,
                                                           mode: str) -> None:
    target = maria_name("fault")
    make_maria_target(mariadb, target)
    before = mariadb_columns(mariadb, target)

    with pytest.raises(Exception, match="boom: row failed"):
        write_jdbc(spark, mariadb_connection(mariadb), failing_frame(spark),
                   WriteRequest(table=TableRef(target), mode=mode, batch_size=100))

    assert mariadb_rows(mariadb, target) == OLD_ROWS
    assert mariadb_columns(mariadb, target) == before


def test_value_the_target_rejects_leaves_target_unchanged(spark: Any, mariadb: dict[str, Any],
                                                         maria_name: Any,
                                                         no_stage_left: None) -> None:
    """A value MariaDB cannot hold (NaN in a DOUBLE) fails the write; nothing changes."""
    target = maria_name("reject")
    make_maria_target(mariadb, target)
    df = spark.sql("SELECT id, IF(id = 1999, double('NaN'), double(id)) AS label "
                   f"FROM range(0, {ROWS}, 1, 4)")

    with pytest.raises(Exception, match="NaN"):
        write_jdbc(spark, mariadb_connection(mariadb), df, WriteRequest(table=TableRef(target)))

    assert mariadb_rows(mariadb, target) == OLD_ROWS


def test_pg_swap_failure_rolls_back(spark: Any, pg: dict[str, Any], pg_name: Any,
                                    no_stage_left: None) -> None:
    """A view on the target makes PostgreSQL refuse the DROP inside the swap transaction: the
    transaction rolls back, the target and the view are as they were."""
    target = pg_name("viewed")
    make_pg_target(pg, target)
    with pg_client(pg) as conn:
        conn.execute(f"CREATE VIEW {target}_v AS SELECT id FROM {target}")

    try:
        with pytest.raises(Exception, match="depend"):
            write_jdbc(spark, pg_connection(pg), failing_frame(spark, fail_at=None),
                       WriteRequest(table=TableRef(target)))
        assert pg_rows(pg, target) == OLD_ROWS
        with pg_client(pg) as conn:
            assert conn.execute(f"SELECT count(*) FROM {target}_v").fetchone() == (2,)
    finally:
        with pg_client(pg) as conn:
            conn.execute(f"DROP VIEW IF EXISTS {target}_v")


def test_pg_overwrite_replaces_rows(spark: Any, pg: dict[str, Any], pg_name: Any,
                                    no_stage_left: None) -> None:
    target = pg_name("over")
    make_pg_target(pg, target)

    outcome = write_jdbc(spark, pg_connection(pg), failing_frame(spark, fail_at=None),
                         WriteRequest(table=TableRef(target, "public"), batch_size=500))

    rows = pg_rows(pg, target)
    assert len(rows) == ROWS and rows[-1] == {"id": ROWS - 1, "label": f"new-{ROWS - 1}"}
    assert any("indexes, constraints and grants are not kept" in n for n in outcome.notes)
    assert any("had different columns (id, label, extra)" in n for n in outcome.notes)


@pytest.mark.parametrize("db", ["pg", "maria"])
def test_append_adds_rows_by_column_name(spark: Any, pg: dict[str, Any], mariadb: dict[str, Any],
                                         pg_name: Any, maria_name: Any, no_stage_left: None,
                                         db: str) -> None:
    from pyspark.sql import functions as F

    # the frame's columns in another order and case than the table's
    df = failing_frame(spark, fail_at=None).where("id >= 3") \
        .select(F.col("label").alias("LABEL"), "id")
    if db == "pg":
        target = pg_name("app")
        make_pg_target(pg, target)
        conn = pg_connection(pg)
    else:
        target = maria_name("app")
        make_maria_target(mariadb, target)
        conn = mariadb_connection(mariadb)

    outcome = write_jdbc(spark, conn, df, WriteRequest(table=TableRef(target), mode="append"))

    rows = pg_rows(pg, target) if db == "pg" else mariadb_rows(mariadb, target)
    assert rows[:2] == OLD_ROWS
    assert len(rows) == 2 + ROWS - 3
    assert rows[2] == {"id": 3, "label": "new-3", "extra": "kept"}
    assert any("in one transaction" in n for n in outcome.notes)
    assert is_retry_safe(WriteRequest(mode="append"))


def test_append_creates_a_missing_table(spark: Any, pg: dict[str, Any], pg_name: Any,
                                        no_stage_left: None) -> None:
    target = pg_name("new")
    write_jdbc(spark, pg_connection(pg), failing_frame(spark, fail_at=None),
               WriteRequest(table=TableRef(target), mode="append"))
    assert len(pg_rows(pg, target)) == ROWS
    assert pg_columns(pg, target) == {"id": "integer", "label": "text"}


def test_append_missing_column_fails_before_writing(spark: Any, pg: dict[str, Any],
                                                    pg_name: Any, no_stage_left: None) -> None:
    from pyspark.sql import functions as F

    target = pg_name("app")
    make_pg_target(pg, target)
    df = failing_frame(spark, fail_at=None).withColumn("nope", F.lit(1))

    with pytest.raises(TransferError, match=r"has no column\(s\) `nope`"):
        write_jdbc(spark, pg_connection(pg), df,
                   WriteRequest(table=TableRef(target), mode="append"))
    assert pg_rows(pg, target) == OLD_ROWS


def test_mariadb_names_are_quoted_with_backticks(spark: Any, mariadb: dict[str, Any],
                                                 maria_name: Any, no_stage_left: None) -> None:
    """Spark's generic dialect would send `"order"` (rejected by MariaDB); through the shared
    URL fix Spark uses its MySQL dialect, and our DDL quotes every name."""
    names = ["order", "Mixed Case", 'we"ird', "back`tick", "select"]
    df = spark.createDataFrame([(1, "a", "b", "c", "d")], names)
    target = maria_name("Quo`ted")

    write_jdbc(spark, mariadb_connection(mariadb), df, WriteRequest(table=TableRef(target)))

    assert list(mariadb_columns(mariadb, target)) == names
    assert mariadb_rows(mariadb, target) == [dict(zip(names, (1, "a", "b", "c", "d"),
                                                      strict=True))]


def test_target_view_is_refused(spark: Any, pg: dict[str, Any], pg_name: Any) -> None:
    base = pg_name("base")
    make_pg_target(pg, base)
    view = f"{base}_v"
    with pg_client(pg) as conn:
        conn.execute(f"CREATE VIEW {view} AS SELECT * FROM {base}")
    try:
        with pytest.raises(TransferError, match="is a view, not a table"):
            write_jdbc(spark, pg_connection(pg), failing_frame(spark, fail_at=None),
                       WriteRequest(table=TableRef(view)))
    finally:
        with pg_client(pg) as conn:
            conn.execute(f"DROP VIEW {view}")


def test_unsupported_types_fail_before_anything_is_created(spark: Any, pg: dict[str, Any],
                                                           mariadb: dict[str, Any],
                                                           no_stage_left: None) -> None:
    df = spark.sql("SELECT 1 AS id, map('a', 1) AS m, named_struct('x', 1) AS s, "
                   "array(1, 2) AS arr")
    with pytest.raises(TransferError) as caught:
        write_jdbc(spark, mariadb_connection(mariadb), df,
                   WriteRequest(table=TableRef("dvtw_never")))
    message = str(caught.value)
    assert "`m`: map<string,int>" in message and "`s`: struct<x:int>" in message
    assert "`arr`: array<int>" in message and "Parquet keeps nested types" in message

    # PostgreSQL holds arrays, not maps
    with pytest.raises(TransferError, match="`m`: map<string,int>") as caught:
        write_jdbc(spark, pg_connection(pg), df, WriteRequest(table=TableRef("dvtw_never")))
    assert "`arr`" not in str(caught.value)


def test_partition_by_and_missing_table_are_usage_errors(spark: Any, pg: dict[str, Any]) -> None:
    df = failing_frame(spark, fail_at=None)
    with pytest.raises(UsageError, match="needs --target-table"):
        write_jdbc(spark, pg_connection(pg), df, WriteRequest())
    with pytest.raises(UsageError, match="--partition-by applies to files targets"):
        write_jdbc(spark, pg_connection(pg), df,
                   WriteRequest(table=TableRef("x"), partition_by=("id",)))


def test_pg_arrays_round_trip(spark: Any, pg: dict[str, Any], pg_name: Any,
                              no_stage_left: None) -> None:
    target = pg_name("arr")
    df = spark.sql("SELECT 1 AS id, array(1, 2, NULL) AS ints, array('a', 'é') AS texts "
                   "UNION ALL SELECT 2, NULL, array()")
    write_jdbc(spark, pg_connection(pg), df, WriteRequest(table=TableRef(target)))
    assert pg_columns(pg, target) == {"id": "integer", "ints": "integer[]", "texts": "text[]"}
    assert pg_rows(pg, target) == [{"id": 1, "ints": [1, 2, None], "texts": ["a", "é"]},
                                   {"id": 2, "ints": None, "texts": []}]
