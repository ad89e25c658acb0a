"""JDBC reads from a real MariaDB (Connector/J 2.7) through the real Spark session."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from dvt_connect.connectors.base import ReadRequest, TableRef
from dvt_connect.connectors.jdbc import JDBCConnector, JdbcReadPlan
from dvt_connect.errors import SourceError
from dvt_connect.partitioning import PartitionConfig
from dvt_connect.retry import RetryConfig, RetryHandler

from .conftest import SLOW_QUANTILES, frames_built, maria_connection, maria_exec, slow_quantiles

pytestmark = [pytest.mark.spark, pytest.mark.mariadb]

BALANCE_FACTOR = 1.5  # largest partition / mean partition, with quantile boundaries
FAST_RETRY = RetryConfig(max_attempts=3, base_delay=0.2, max_delay=0.5, max_elapsed=60)


def connector(spark: Any, mariadb: dict[str, Any], *, config: PartitionConfig | None = None,
              **extra: Any) -> JDBCConnector:
    return JDBCConnector(spark, maria_connection(mariadb, **extra), partition_config=config)


def predicate_counts(maria_sql: Any, table: str, plan: JdbcReadPlan) -> list[int]:
    return [maria_exec(maria_sql, f"SELECT count(*) FROM `{table}` WHERE {p or '1=1'}")[0][0]
            for p in plan.predicates()]


def test_column_names_are_quoted_for_mariadb_not_read_as_strings(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str]) -> None:
    # Spark has no MariaDB dialect: given jdbc:mariadb: it would send SELECT "id","order",...
    # which MariaDB reads as string literals. The URL handed to Spark makes it use MySQL's.
    table = maria_table("quote")
    maria_exec(maria_sql,
               f"CREATE TABLE `{table}` (id INT PRIMARY KEY, `order` INT, `my col` VARCHAR(10))",
               f"INSERT INTO `{table}` SELECT seq, seq * 10, CONCAT('c', seq) FROM seq_1_to_300")
    conn = connector(spark, mariadb)
    assert conn.connection.jdbc_url().startswith("jdbc:mariadb:")

    plan = conn.plan_read(ReadRequest(table=TableRef.parse(table), partitions=3,
                                      columns=("my col", "order", "id")))
    rows = conn.load(plan).collect()

    assert [p.predicate for p in plan.partitions][1] == "`id` >= 101 AND `id` < 201"
    assert sorted((r["id"], r["order"], r["my col"]) for r in rows) == [
        (i, i * 10, f"c{i}") for i in range(1, 301)]


def test_no_row_lost_or_duplicated_nulls_included_and_skew_balanced(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str]) -> None:
    table = maria_table("skew")
    maria_exec(maria_sql,
               f"CREATE TABLE `{table}` (id INT PRIMARY KEY, k BIGINT NULL, KEY (k))",
               # 95% of keys dense, 5% spread up to ten billion, 2% NULL
               f"INSERT INTO `{table}` SELECT seq, CASE WHEN seq % 50 = 0 THEN NULL "
               f"WHEN seq % 20 = 0 THEN seq * 1000000 ELSE seq END FROM seq_1_to_10000",
               f"ANALYZE TABLE `{table}`")
    total, partitions = 10000, 6

    balanced = connector(spark, mariadb).plan_read(
        ReadRequest(table=TableRef.parse(table), partition_column="k", partitions=partitions))
    strided = connector(spark, mariadb, config=PartitionConfig(quantiles=False)).plan_read(
        ReadRequest(table=TableRef.parse(table), partition_column="k", partitions=partitions))

    assert "quantile boundaries" in balanced.notes
    sizes = predicate_counts(maria_sql, table, balanced)
    assert len(sizes) == partitions and sum(sizes) == total
    assert max(sizes) <= BALANCE_FACTOR * total / partitions, sizes
    stride_sizes = predicate_counts(maria_sql, table, strided)
    assert sum(stride_sizes) == total and max(stride_sizes) > 0.9 * total

    rows = connector(spark, mariadb).load(balanced).collect()
    ids = Counter(r["id"] for r in rows)
    assert set(ids) == set(range(1, total + 1)) and max(ids.values()) == 1
    assert sum(1 for r in rows if r["k"] is None) == 200


@pytest.mark.parametrize("step", [1, 7], ids=["dense", "sparse"])
def test_a_dense_primary_key_is_cut_evenly_without_a_quantile_query(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str], step: int) -> None:
    table = maria_table("dense")
    # keys 1..20,000 (every value between the bounds), or every 7th integer (a seventh of them)
    maria_exec(maria_sql,
               f"CREATE TABLE `{table}` (id BIGINT PRIMARY KEY, v INT)",
               f"INSERT INTO `{table}` SELECT seq * {step}, seq FROM seq_1_to_20000",
               f"ANALYZE TABLE `{table}`")
    estimate = maria_exec(maria_sql, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
                          f"TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'")[0][0]

    plan = connector(spark, mariadb).plan_read(
        ReadRequest(table=TableRef.parse(table), partitions=4))

    dense = (f"even stride: the primary key is dense (about {estimate:,} rows between 1 and "
             "20000; no quantile query)")
    assert (dense in plan.notes) is (step == 1), plan.notes
    assert ("quantile boundaries" in plan.notes) is (step == 7), plan.notes
    sizes = predicate_counts(maria_sql, table, plan)
    assert len(sizes) == 4 and sum(sizes) == 20000
    assert max(sizes) <= 1.1 * 20000 / 4, sizes


def test_a_quantile_query_past_its_time_bound_is_cancelled_and_the_range_cut_evenly(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> None:
    table = maria_table("slowq")
    # every 7th integer: not dense, so the quantiles are computed
    maria_exec(maria_sql,
               f"CREATE TABLE `{table}` (id BIGINT PRIMARY KEY, v INT)",
               f"INSERT INTO `{table}` SELECT seq * 7, seq FROM seq_1_to_4000",
               f"ANALYZE TABLE `{table}`")
    cut_evenly = slow_quantiles(monkeypatch, "SELECT q.* FROM ({sql}) q WHERE SLEEP(20) = 0")

    plan = connector(spark, mariadb, config=PartitionConfig(quantile_seconds=1)).plan_read(
        ReadRequest(table=TableRef.parse(table), partitions=4))

    cut_evenly(plan, predicate_counts(maria_sql, table, plan))
    # the server stopped it (max_statement_time, which the driver sets): it is not still running
    running = maria_exec(maria_sql, "SELECT count(*) FROM information_schema.PROCESSLIST WHERE "
                         f"INFO LIKE '%{SLOW_QUANTILES}%' AND ID <> CONNECTION_ID()")
    assert running[0][0] == 0


def test_datetime_partitions_read_every_row(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str]) -> None:
    table = maria_table("time")
    maria_exec(maria_sql,
               f"CREATE TABLE `{table}` (id INT PRIMARY KEY, at DATETIME(6) NULL, d DATE NULL)",
               f"INSERT INTO `{table}` SELECT seq, '2024-03-10 01:59:59.5' + INTERVAL seq * 7 "
               f"SECOND, '2024-02-27' + INTERVAL (seq % 9) DAY FROM seq_1_to_2000",
               f"UPDATE `{table}` SET at = NULL, d = NULL WHERE id % 101 = 0",
               f"ANALYZE TABLE `{table}`")
    conn = connector(spark, mariadb)
    for column in ("at", "d"):
        plan = conn.plan_read(ReadRequest(table=TableRef.parse(table), partition_column=column,
                                          partitions=4))
        rows = conn.load(plan).collect()
        assert len(plan.partitions) == 4, column
        assert sorted(r["id"] for r in rows) == list(range(1, 2001)), column
        assert sum(predicate_counts(maria_sql, table, plan)) == 2000


def test_the_schema_asked_of_the_jdbc_source_is_the_whole_read_s(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning asks Spark's JDBC source for one partition's schema without building a
    DataFrame: DATETIME columns (read as instants, cast back to wall times), TIMESTAMP,
    DECIMAL, unsigned and NOT NULL columns arrive as the loaded union of every partition has
    them, nullability and metadata included."""
    table = maria_table("schema")
    maria_exec(maria_sql,
               f"CREATE TABLE `{table}` (id INT PRIMARY KEY, at DATETIME(6) NOT NULL, "
               "maybe DATETIME NULL, ts TIMESTAMP(3) NULL, amount DECIMAL(20,4), "
               "big BIGINT UNSIGNED, name VARCHAR(20) NOT NULL, flag TINYINT(1), d DATE)",
               f"INSERT INTO `{table}` SELECT seq, '2024-03-10 01:59:59.5' + INTERVAL seq "
               "SECOND, NULL, NULL, seq / 7, seq, CONCAT('n', seq), seq % 2, '2024-02-27' "
               "FROM seq_1_to_500",
               f"ANALYZE TABLE `{table}`")
    conn = connector(spark, mariadb)
    plan = conn.plan_read(ReadRequest(table=TableRef.parse(table), partitions=3))
    assert len(plan.predicates()) == 3
    built = frames_built(monkeypatch, conn)
    schema = conn.read_schema(plan)
    assert built == []
    whole = conn.load(plan).schema
    assert built == [3]
    assert schema == whole and schema.json() == whole.json()
    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    assert (types["at"], types["maybe"], types["ts"]) == (
        "timestamp_ntz", "timestamp_ntz", "timestamp")


def test_a_wrong_password_fails_at_once_without_retries(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str]) -> None:
    table = maria_table("auth")
    user = f"rd_{uuid.uuid4().hex[:8]}"
    maria_exec(maria_sql, f"CREATE TABLE `{table}` (id INT PRIMARY KEY)",
               f"INSERT INTO `{table}` VALUES (1), (2)",
               f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pass-1'",
               f"GRANT SELECT ON `{mariadb['database']}`.* TO '{user}'@'%'")
    try:
        good = connector(spark, mariadb, user=user, password="right-pass-1")
        plan = good.plan_read(ReadRequest(table=TableRef.parse(table)))
        assert len(good.load(plan).collect()) == 2  # the account works with its password

        bad = connector(spark, mariadb, user=user, password="wrong-pass-2")
        started = time.monotonic()
        with pytest.raises(SourceError) as caught:
            bad.plan_read(ReadRequest(table=TableRef.parse(table)))
        message = str(caught.value)
        assert time.monotonic() - started < 5
        assert message.startswith(f'MariaDB refused the login for user "{user}" at ')
        assert "(SQLState 28000, error 1045)" in message
        assert "wrong-pass-2" not in message and "at org." not in message

        attempts: list[int] = []

        def action() -> Any:
            attempts.append(1)
            return bad.load(plan).collect()

        with pytest.raises(Exception) as at_action:
            RetryHandler(FAST_RETRY).run(action, bad.is_transient)
        assert len(attempts) == 1 and not bad.is_transient(at_action.value)
        assert "error 1045" in (bad.describe_error(at_action.value) or "")
    finally:
        maria_exec(maria_sql, f"DROP USER IF EXISTS '{user}'@'%'")


def test_a_connection_killed_mid_read_is_retried_and_the_result_is_complete(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str]) -> None:
    table = maria_table("kill")
    view = f"{table}_v"
    maria_exec(maria_sql, f"CREATE TABLE `{table}` (id INT PRIMARY KEY, v VARCHAR(10))",
               f"INSERT INTO `{table}` SELECT seq, CONCAT('v', seq) FROM seq_1_to_3000",
               # each query on the view sleeps 1.5 s before its first row
               f"CREATE VIEW `{view}` AS SELECT t.* FROM `{table}` t "
               f"JOIN (SELECT SLEEP(1.5) AS z) s")
    try:
        conn = connector(spark, mariadb)
        plan = conn.plan_read(ReadRequest(table=TableRef.parse(view), partition_column="id",
                                          partitions=2))
        killed: list[int] = []
        finished = threading.Event()

        def kill_first_attempt() -> None:
            import pymysql

            watcher = pymysql.connect(host=mariadb["host"], port=int(mariadb["port"]),
                                      user=mariadb["user"], password=mariadb["password"],
                                      autocommit=True)
            try:
                while not finished.is_set() and not killed:
                    ids = [r[0] for r in maria_exec(
                        watcher, "SELECT ID FROM information_schema.PROCESSLIST WHERE "
                        f"COMMAND = 'Query' AND INFO LIKE '%{view}%' AND INFO NOT LIKE '%1=0%'")]
                    for pid in ids:
                        maria_exec(watcher, f"KILL CONNECTION {int(pid)}")
                        killed.append(pid)
                    time.sleep(0.05)
            finally:
                watcher.close()

        killer = threading.Thread(target=kill_first_attempt)
        killer.start()
        heard: list[bool] = []
        try:
            rows, retries = RetryHandler(FAST_RETRY).run(
                lambda: conn.load(plan).collect(), conn.is_transient,
                on_retry=lambda n, exc, d: heard.append(conn.is_transient(exc)))
        finally:
            finished.set()
            killer.join()

        assert killed, "the read finished before its connection could be killed"
        assert retries >= 1 and heard and all(heard)
        assert sorted(r["id"] for r in rows) == list(range(1, 3001))
    finally:
        maria_exec(maria_sql, f"DROP VIEW IF EXISTS `{view}`")


def test_missing_table_suggests_the_close_name(
        spark: Any, mariadb: dict[str, Any], maria_sql: Any,
        maria_table: Callable[[str], str]) -> None:
    table = maria_table("present")
    maria_exec(maria_sql, f"CREATE TABLE `{table}` (id INT)")
    with pytest.raises(SourceError, match=r"was not found .*\(SQLState 42S02, error 1146\)") as e:
        connector(spark, mariadb).plan_read(ReadRequest(table=TableRef.parse(table[:-1])))
    assert f"`{table}`" in str(e.value.hint)
