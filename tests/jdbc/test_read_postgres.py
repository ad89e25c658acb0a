"""JDBC reads from a real PostgreSQL through the real Spark session."""

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
from dvt_connect.console import CaptureConsole
from dvt_connect.errors import SourceError, UsageError
from dvt_connect.partitioning import PartitionConfig
from dvt_connect.retry import RetryConfig, RetryHandler

from .conftest import SLOW_QUANTILES, frames_built, pg_connection, slow_quantiles

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

BALANCE_FACTOR = 1.5  # largest partition / mean partition, with quantile boundaries
HISTOGRAM_NOTE = "quantile boundaries from the catalog's statistics (the column's histogram)"
FAST_RETRY = RetryConfig(max_attempts=3, base_delay=0.2, max_delay=0.5, max_elapsed=60)


def connector(spark: Any, pg: dict[str, Any], *, config: PartitionConfig | None = None,
              console: CaptureConsole | None = None, **extra: Any) -> JDBCConnector:
    return JDBCConnector(spark, pg_connection(pg, **extra), partition_config=config,
                         console=console)


def read(conn: JDBCConnector, **request: Any) -> tuple[JdbcReadPlan, list[Any]]:
    plan = conn.plan_read(ReadRequest(**request))
    return plan, conn.load(plan).collect()


def analyze(pg_sql: Any, table: str) -> None:
    """ANALYZE as on a table at rest: this connection's own changes are reported first (a
    backend reports them up to a second later, and reported after ANALYZE they count as
    changed since, which makes the statistics look stale to the planner)."""
    pg_sql.execute("SELECT pg_stat_force_next_flush()")
    pg_sql.execute(f"ANALYZE {table}")


def predicate_counts(pg_sql: Any, table: str, plan: JdbcReadPlan,
                     where: str | None = None) -> list[int]:
    """Rows each partition's predicate (and the read's ``where``) selects, counted by
    PostgreSQL itself."""
    extra = f" AND ({where})" if where else ""
    return [pg_sql.execute(f"SELECT count(*) FROM {table} WHERE ({p or 'true'}){extra}")
            .fetchone()[0] for p in plan.predicates()]


# ---- correctness at the bounds ------------------------------------------------------------

@pytest.mark.parametrize("quantiles", [True, False], ids=["quantiles", "stride"])
def test_no_row_lost_or_duplicated_at_the_bounds_and_nulls_are_read(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str],
        quantiles: bool) -> None:
    table = pg_table("bounds")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, k int, note text)")
    # every k in 0..999 twice (so every cut point is a value that exists), plus 50 NULL keys
    pg_sql.execute(f"INSERT INTO {table} SELECT g, CASE WHEN g <= 50 THEN NULL ELSE g % 1000 "
                   f"END, 'n' || g FROM generate_series(1, 2050) g")
    pg_sql.execute(f"CREATE INDEX ON {table} (k)")
    analyze(pg_sql, table)
    conn = connector(spark, pg, config=PartitionConfig(quantiles=quantiles))

    plan, rows = read(conn, table=TableRef.parse(table), partition_column="k", partitions=6)

    assert len(plan.partitions) == 6
    assert plan.partitions[0].predicate is not None
    assert plan.partitions[0].predicate.endswith('OR "k" IS NULL')
    ids = Counter(r["id"] for r in rows)
    assert set(ids) == set(range(1, 2051)) and max(ids.values()) == 1
    assert sum(1 for r in rows if r["k"] is None) == 50
    # each cut point's own rows land in exactly one partition
    counts = predicate_counts(pg_sql, table, plan)
    assert sum(counts) == 2050 and 0 not in counts
    assert any(note.startswith("quantile") for note in plan.notes) is quantiles


def test_primary_key_is_chosen_and_the_estimate_sizes_the_plan(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("auto")
    pg_sql.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, day date NOT NULL, v text)")
    pg_sql.execute(f"INSERT INTO {table} SELECT g, date '2024-01-01' + (g % 366), 'v' "
                   f"FROM generate_series(1, 20000) g")
    analyze(pg_sql, table)
    conn = connector(spark, pg, config=PartitionConfig(rows_per_partition=5000,
                                                       split_above=5000))

    plan, rows = read(conn, table=TableRef.parse(table))

    assert plan.partition_column == "id"
    assert plan.estimated_rows == 20000
    # 20,000 rows at most 5,000 per partition (4 per core on local[2] allows 8): 4
    assert len(plan.partitions) == 4
    assert "primary key" in plan.notes[0]
    assert len(rows) == 20000 and len({r["id"] for r in rows}) == 20000


def test_date_and_timestamptz_partitions_read_every_row(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("time")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, d date, ts timestamptz)")
    pg_sql.execute(f"INSERT INTO {table} SELECT g, date '2023-12-25' + (g % 20), "
                   f"timestamptz '2024-03-31 01:30:00.123456+02' + g * interval '7 minutes 1.5 s'"
                   f" FROM generate_series(1, 3000) g")
    pg_sql.execute(f"UPDATE {table} SET ts = NULL, d = NULL WHERE id % 97 = 0")
    analyze(pg_sql, table)
    conn = connector(spark, pg)
    for column in ("d", "ts"):
        plan, rows = read(conn, table=TableRef.parse(table), partition_column=column,
                          partitions=5)
        assert len(plan.partitions) == 5, column
        # the instants' cut points from their histogram (its text in the session's time zone);
        # the 20 days are each frequent enough to be kept apart from one: computed
        assert (HISTOGRAM_NOTE in plan.notes) is (column == "ts"), plan.notes
        assert sorted(r["id"] for r in rows) == list(range(1, 3001)), column
        assert sum(predicate_counts(pg_sql, table, plan)) == 3000


def test_skewed_keys_are_balanced_with_quantile_boundaries(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("skew")
    pg_sql.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, v text)")
    # 95% of keys dense in 1..19,000; 5% spread up to ten billion
    pg_sql.execute(f"INSERT INTO {table} SELECT g, 'v' FROM generate_series(1, 19000) g")
    pg_sql.execute(f"INSERT INTO {table} SELECT 19000 + g::bigint * 10000000, 'v' "
                   f"FROM generate_series(1, 1000) g")
    analyze(pg_sql, table)
    total, partitions = 20000, 8
    mean = total / partitions

    balanced = connector(spark, pg).plan_read(
        ReadRequest(table=TableRef.parse(table), partitions=partitions))
    strided = connector(spark, pg, config=PartitionConfig(quantiles=False)).plan_read(
        ReadRequest(table=TableRef.parse(table), partitions=partitions))

    assert HISTOGRAM_NOTE in balanced.notes, balanced.notes
    sizes = predicate_counts(pg_sql, table, balanced)
    assert len(sizes) == partitions and sum(sizes) == total
    assert max(sizes) <= BALANCE_FACTOR * mean, sizes
    # what Spark's own stride splitting does on these keys (SPARK-19327)
    stride_sizes = predicate_counts(pg_sql, table, strided)
    assert sum(stride_sizes) == total and max(stride_sizes) > 0.9 * total
    # and the Spark read has one partition per predicate, with the same sizes
    from pyspark.sql.functions import spark_partition_id

    df = connector(spark, pg).load(balanced)
    per_partition = {r[0]: r[1] for r in df.groupBy(spark_partition_id()).count().collect()}
    assert sorted(per_partition.values()) == sorted(sizes)


def test_quantiles_from_a_block_sample_of_a_large_table(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("sample")
    pg_sql.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, pad text)")
    pg_sql.execute(f"INSERT INTO {table} SELECT g * g, 'p' FROM generate_series(1, 40000) g "
                   f"ORDER BY random()")
    # no histogram of the key (its statistics off), so the quantiles are computed
    pg_sql.execute(f"ALTER TABLE {table} ALTER COLUMN id SET STATISTICS 0")
    analyze(pg_sql, table)
    config = PartitionConfig(sample_rows=2000)  # 40,000 rows > 2 x 2,000: sample 5%
    plan = connector(spark, pg, config=config).plan_read(
        ReadRequest(table=TableRef.parse(table), partitions=4))
    assert any("% sample" in n for n in plan.notes), plan.notes
    sizes = predicate_counts(pg_sql, table, plan)
    assert sum(sizes) == 40000 and len(sizes) == 4
    assert max(sizes) <= 2.0 * 10000, sizes  # a sample balances less exactly


def _histogram(pg_sql: Any, table: str, column: str) -> list[Any]:
    schema, name = table.split(".")
    row = pg_sql.execute("SELECT histogram_bounds::text::bigint[] FROM pg_stats WHERE "
                         "schemaname = %s AND tablename = %s AND attname = %s",
                         (schema, name, column)).fetchone()
    return list(row[0]) if row and row[0] else []


@pytest.mark.parametrize("case", ["rows added since", "a frequent value", "a where clause"])
def test_quantiles_are_computed_where_the_histogram_would_mislead(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str],
        case: str) -> None:
    table = pg_table("stale")
    pg_sql.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, k int NOT NULL)")
    # k: a third of the rows 1,000,000, the rest distinct and below it (PostgreSQL lists the
    # frequent value apart from its histogram, whose buckets then share the other rows only)
    pg_sql.execute(f"INSERT INTO {table} SELECT g, CASE WHEN g % 3 = 0 THEN 1000000 ELSE g "
                   f"END FROM generate_series(1, 20000) g")
    analyze(pg_sql, table)
    column, where, total = "id", None, 20000
    if case == "rows added since":
        # twice as many keys above the histogram's last bound as below it
        pg_sql.execute(f"INSERT INTO {table} SELECT g, g FROM generate_series(20001, 60000) g")
        pg_sql.execute("SELECT pg_stat_force_next_flush()")
        total = 60000
        schema, name = table.split(".")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pg_sql.execute("SELECT pg_stat_clear_snapshot()")
            changed = pg_sql.execute(
                "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE schemaname = %s "
                "AND relname = %s", (schema, name)).fetchone()[0]
            if changed >= 40000:
                break
            time.sleep(0.2)
        assert changed >= 40000
    elif case == "a frequent value":
        column = "k"
    else:
        where, total = "id > 2000", 18000
    assert _histogram(pg_sql, table, column)  # there is one, and it is not used

    plan = connector(spark, pg).plan_read(ReadRequest(
        table=TableRef.parse(table), partition_column=column, partitions=4, where=where))

    assert HISTOGRAM_NOTE not in plan.notes and "quantile boundaries" in plan.notes, plan.notes
    sizes = predicate_counts(pg_sql, table, plan, where)
    assert sum(sizes) == total
    # computed quantiles balance the rows the read selects; the 6,666 rows where k is
    # 1,000,000 are a partition of their own (the histogram's cut points would have put them
    # with a quarter of the others: 10,000 rows)
    assert max(sizes) <= (6666 if column == "k" else 1.1 * total / 4), sizes


def test_a_quantile_query_past_its_time_bound_is_cancelled_and_the_range_cut_evenly(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    table = pg_table("slowq")
    pg_sql.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, v text)")
    pg_sql.execute(f"INSERT INTO {table} SELECT g * g, 'v' FROM generate_series(1, 4000) g")
    # no histogram of the key: its quantiles are computed
    pg_sql.execute(f"ALTER TABLE {table} ALTER COLUMN id SET STATISTICS 0")
    analyze(pg_sql, table)
    cut_evenly = slow_quantiles(monkeypatch, "SELECT q.* FROM pg_sleep(60), ({sql}) q")

    plan = connector(spark, pg, config=PartitionConfig(quantile_seconds=1)).plan_read(
        ReadRequest(table=TableRef.parse(table), partitions=4))

    cut_evenly(plan, predicate_counts(pg_sql, table, plan))
    # the server stopped it (the driver's cancel request): it is not still sleeping
    running = pg_sql.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                             "AND query LIKE %s AND pid <> pg_backend_pid()",
                             (f"%{SLOW_QUANTILES}%",)).fetchone()[0]
    assert running == 0


# ---- the source is read once ---------------------------------------------------------------

def _scans(pg_sql: Any, table: str) -> int:
    schema, name = table.split(".")
    pg_sql.execute("SELECT pg_stat_clear_snapshot()")
    row = pg_sql.execute(
        "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
        "WHERE schemaname = %s AND relname = %s", (schema, name)).fetchone()
    return int(row[0])


def _settled_scans(pg_sql: Any, table: str, at_least: int) -> int:
    """Scan count once every backend that touched the table has exited and flushed its
    statistics (PostgreSQL 15 flushes at backend exit): wait for ``at_least``, then for quiet."""
    deadline = time.monotonic() + 15
    value = _scans(pg_sql, table)
    while value < at_least and time.monotonic() < deadline:
        time.sleep(0.1)
        value = _scans(pg_sql, table)
    time.sleep(1.5)
    return _scans(pg_sql, table)


def test_each_partition_is_exactly_one_query(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("once")
    # no index: every query on the table is one sequential scan, counted by PostgreSQL
    pg_sql.execute(f"CREATE TABLE {table} (k int, v text)")
    pg_sql.execute(f"INSERT INTO {table} SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE g END, 'v' "
                   f"FROM generate_series(1, 20000) g")
    analyze(pg_sql, table)
    start = _settled_scans(pg_sql, table, 0)
    conn = connector(spark, pg, properties={"options": "-c max_parallel_workers_per_gather=0"})

    plan = conn.plan_read(ReadRequest(table=TableRef.parse(table), partition_column="k",
                                      partitions=4))
    planned = _settled_scans(pg_sql, table, start + 1)
    rows = conn.load(plan).collect()
    done = _settled_scans(pg_sql, table, planned + len(plan.partitions))

    assert len(rows) == 20000
    assert len(plan.partitions) == 4
    # planning: one bounds query, which returned the column's histogram; no quantile query
    # sorts a sample, no count, no data read
    assert HISTOGRAM_NOTE in plan.notes, plan.notes
    assert planned - start == 1
    # the cut points are its bounds at 1/4, 2/4 and 3/4, as PostgreSQL shows them
    bounds = _histogram(pg_sql, table, "k")
    assert len(bounds) == 101
    assert [p.lower for p in plan.partitions[1:]] == [bounds[25], bounds[50], bounds[75]]
    # reading: one query per partition; a second pass (count(), a re-read) would show here
    assert done - planned == len(plan.partitions)


# ---- failures --------------------------------------------------------------------------------

def test_a_backend_killed_mid_read_is_retried_and_the_result_is_complete(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("kill")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v text)")
    pg_sql.execute(f"INSERT INTO {table} SELECT g, 'v' || g FROM generate_series(1, 5000) g")
    # each query on the view sleeps 1.5 s before its first row: time to find and kill it
    pg_sql.execute(f"CREATE VIEW {table}_v AS SELECT t.* FROM {table} t, pg_sleep(1.5) s")
    app = f"dvt_rd_{uuid.uuid4().hex[:8]}"
    conn = connector(spark, pg, properties={"ApplicationName": app})
    plan = conn.plan_read(ReadRequest(table=TableRef.parse(f"{table}_v"), partition_column="id",
                                      partitions=2))
    killed: list[int] = []
    finished = threading.Event()
    view = table.split(".")[1] + "_v"

    def kill_first_attempt() -> None:
        while not finished.is_set() and not killed:
            pids = [r[0] for r in pg_sql.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND state = 'active' AND query LIKE %s AND query NOT LIKE %s",
                (app, f"%{view}%", "%1=0%"))]
            for pid in pids:
                pg_sql.execute("SELECT pg_terminate_backend(%s)", (pid,))
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_attempt)
    killer.start()
    heard: list[tuple[bool, str | None]] = []
    try:
        rows, retries = RetryHandler(FAST_RETRY).run(
            lambda: conn.load(plan).collect(), conn.is_transient,
            on_retry=lambda n, exc, d: heard.append((conn.is_transient(exc),
                                                     conn.describe_error(exc))))
    finally:
        finished.set()
        killer.join()

    assert killed, "the read finished before its backend could be terminated"
    assert retries >= 1 and heard and all(transient for transient, _ in heard)
    assert "administrator command" in (heard[0][1] or "") or "08" in (heard[0][1] or "")
    assert sorted(r["id"] for r in rows) == list(range(1, 5001))


def test_an_unknown_login_fails_at_once_without_retries(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    # this server trusts every password from 127.0.0.1; an unknown role is its login failure
    table = pg_table("auth")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    console = CaptureConsole()
    bad = connector(spark, {**pg, "user": "dvt_no_such_role"}, console=console)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r'PostgreSQL refused the login for user '
                                          r'"dvt_no_such_role" .*\(SQLState 28000\)'):
        bad.plan_read(ReadRequest(table=TableRef.parse(table)))
    assert time.monotonic() - started < 5 and console.warnings() == []

    # the same at the action: the retry loop gives up after the first attempt
    plan = connector(spark, pg).plan_read(ReadRequest(table=TableRef.parse(table)))
    attempts: list[int] = []

    def action() -> Any:
        attempts.append(1)
        return bad.load(plan).collect()

    with pytest.raises(Exception) as caught:
        RetryHandler(FAST_RETRY).run(action, bad.is_transient)
    assert len(attempts) == 1
    assert "SQLState 28000" in (bad.describe_error(caught.value) or "")


def test_a_missing_table_names_the_table_and_suggests(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("present")
    pg_sql.execute(f"CREATE TABLE {table} (id int)")
    with pytest.raises(SourceError, match=r"was not found in postgres output `pg` .*42P01") as e:
        connector(spark, pg).plan_read(ReadRequest(table=TableRef.parse(table + "x")))
    assert f"`{table.split('.')[1]}`" in str(e.value.hint)


def test_the_missing_table_hint_lists_tables_never_indexes(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("orders")
    schema, name = table.split(".")
    pg_sql.execute(f"CREATE TABLE {table} (id int)")
    # an index named like the table the user meant: the driver's metadata lists it too
    pg_sql.execute(f"CREATE INDEX {name}_wanted_idx ON {table} (id)")
    with pytest.raises(SourceError, match="was not found") as e:
        connector(spark, pg).plan_read(ReadRequest(table=TableRef(f"{name}_wanted", schema)))
    assert "_idx" not in str(e.value.hint), e.value.hint
    assert f"`{name}`" in str(e.value.hint)


def test_sql_errors_in_where_fail_at_planning_with_the_server_message(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("where")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    with pytest.raises(SourceError, match=r"rejected the query: syntax error .*42601"):
        connector(spark, pg).plan_read(ReadRequest(table=TableRef.parse(table), where="id = = 1",
                                                   partitions=2))


def test_unknown_columns_are_usage_errors(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("cols")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text, score float8)")
    conn = connector(spark, pg)
    with pytest.raises(UsageError, match="`nmae` is not a column") as e:
        conn.plan_read(ReadRequest(table=TableRef.parse(table), columns=("id", "nmae")))
    assert e.value.hint == "Did you mean `name`?"
    with pytest.raises(UsageError, match="cannot partition on `score`: it is float8"):
        conn.plan_read(ReadRequest(table=TableRef.parse(table), partition_column="score"))
    with pytest.raises(UsageError, match="cannot split .* into 3 partitions"):
        pg_sql.execute(f"CREATE TABLE {table}_nokey (name text)")
        try:
            conn.plan_read(ReadRequest(table=TableRef.parse(f"{table}_nokey"), partitions=3))
        finally:
            pg_sql.execute(f"DROP TABLE {table}_nokey")


# ---- options -------------------------------------------------------------------------------

def test_where_columns_and_query_are_pushed_down(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("opts")
    pg_sql.execute(f'CREATE TABLE {table} (id int PRIMARY KEY, "Mixed Case" text, n int)')
    pg_sql.execute(f"INSERT INTO {table} SELECT g, 'm' || g, g % 7 FROM generate_series(1, 700) g")
    conn = connector(spark, pg)

    plan, rows = read(conn, table=TableRef.parse(table), columns=("Mixed Case", "ID"),
                      where="n = 3", partitions=3)
    assert [f.name for f in conn.load(plan).schema.fields] == ["Mixed Case", "id"]
    assert len(rows) == 100 and all(r["Mixed Case"] == f"m{r['id']}" for r in rows)
    assert all(p.startswith("(n = 3) AND (") for p in plan.predicates() if p)

    plan, rows = read(conn, query=f"SELECT id, n * 2 AS twice FROM {table} WHERE id <= 90",
                      partition_column="id", partitions=3)
    assert len(plan.partitions) == 3 and plan.estimated_rows is None
    assert sorted(r["id"] for r in rows) == list(range(1, 91))
    assert {r["twice"] for r in rows} == {2 * i for i in range(7)}

    # without a partition column a --query is read in one partition, with a note
    plan = conn.plan_read(ReadRequest(query=f"SELECT id FROM {table}"))
    assert len(plan.partitions) == 1 and "--partition-column" in plan.notes[0]


def test_profile_settings_apply_when_the_command_line_is_silent(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str]) -> None:
    table = pg_table("profile")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, k int)")
    pg_sql.execute(f"INSERT INTO {table} SELECT g, g FROM generate_series(1, 100) g")
    conn = connector(spark, pg, partitions=3, partition_column="k", fetch_size=123)
    plan = conn.plan_read(ReadRequest(table=TableRef.parse(table)))
    assert (len(plan.partitions), plan.partition_column, plan.fetch_size) == (3, "k", 123)
    plan = conn.plan_read(ReadRequest(table=TableRef.parse(table), partitions=2,
                                      partition_column="id", fetch_size=50))
    assert (len(plan.partitions), plan.partition_column, plan.fetch_size) == (2, "id", 50)


def test_the_schema_of_a_partitioned_read_is_one_partition_s_and_equals_the_whole_read_s(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning resolves one partition's relation for the schema (each relation is a connection
    and a `WHERE 1=0` query), asked of Spark's JDBC source without building a DataFrame: the
    same schema, wall-time columns, nullability and metadata included, as the union of every
    partition the move loads (in its column order, not the table's)."""
    table = pg_table("schema1")
    pg_sql.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, must text NOT NULL, "
                   "may text, amount numeric(12,2), wall timestamp, at timestamptz, "
                   "skipped int)")
    pg_sql.execute(f"INSERT INTO {table} SELECT g, 'm' || g, NULL, g / 100.0, "
                   "timestamp '2024-03-10 02:30:00' + g * interval '1 hour', now(), g "
                   "FROM generate_series(1, 4000) g")
    analyze(pg_sql, table)
    conn = connector(spark, pg)
    plan = conn.plan_read(ReadRequest(
        table=TableRef.parse(table), partition_column="id", partitions=5, where="id > 10",
        columns=("at", "id", "must", "may", "amount", "wall")))
    assert len(plan.predicates()) == 5
    built = frames_built(monkeypatch, conn)
    schema = conn.read_schema(plan)
    assert built == []
    whole = conn.load(plan).schema
    assert built == [5]
    assert schema == whole and schema.json() == whole.json()
    assert [f.name for f in schema.fields] == ["at", "id", "must", "may", "amount", "wall"]


def test_a_schema_the_jdbc_source_cannot_resolve_fails_as_the_dataframe_s_does(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where asking Spark's JDBC source directly fails (here: the table dropped after planning),
    the DataFrame's way is asked, and its error is the one raised and classified."""
    table = pg_table("schema_gone")
    pg_sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    conn = connector(spark, pg)
    plan = conn.plan_read(ReadRequest(table=TableRef.parse(table)))
    pg_sql.execute(f"DROP TABLE {table}")
    built = frames_built(monkeypatch, conn)
    with pytest.raises(Exception) as failed:
        conn.read_schema(plan)
    assert built == [1]
    assert "42P01" in (conn.describe_error(failed.value) or "")


_FRESH_SCHEMA_PROBE = """
import json, sys
from pathlib import Path
from dvt_connect import spark as S
from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.base import ReadRequest, TableRef
from dvt_connect.connectors.jdbc import JDBCConnector
args = json.loads(sys.argv[1])
def built(session):  # the session's SQL state, a lazy field until something asks for it
    field = session._jsparkSession.getClass().getDeclaredField("sessionState")
    field.setAccessible(True)
    return field.get(session._jsparkSession) is not None
session = S.get_session(S.session_spec(master="local[1]", jars=args["jars"], conf=args["conf"]))
connection = parse_connection("pg", {"type": "postgres", **args["pg"]},
                              path=Path("profiles.yml"), key="test.outputs.pg")
conn = JDBCConnector(session, connection)
out = {"sensitive": not S.name_resolver(session).apply("A", "a")}
plan = conn.plan_read(ReadRequest(table=TableRef.parse(args["table"]),
                                  read_as={"m": "string", "M": "string"}))
try:
    schema = conn.read_schema(plan)
    out["built after planning"] = built(session)
    out["same as the frame's"] = schema.json() == conn.load(plan).schema.json()
except Exception as exc:
    out["error"] = str(exc)
out["built at last"] = built(session)
session.conf.set("spark.sql.caseSensitive", str(not out["sensitive"]).lower())
out["sensitive at run time"] = not S.name_resolver(session).apply("A", "a")
print(json.dumps(out))
S.stop_session()
"""


@pytest.mark.parametrize("sensitive", [True, False])
def test_a_fresh_session_s_schema_is_asked_without_building_its_sql_state(
        spark: Any, pg: dict[str, Any], pg_sql: Any, pg_table: Callable[[str], str],
        run_probe: Callable[..., Any], sensitive: bool) -> None:
    """Planning a read in a fresh session leaves the session's SQL state (catalog, analyzer,
    function registry: most of a second of a cold driver) unbuilt, with the column-name
    matching the state would have: columns `m` and `M` read as text through Spark's
    `customSchema` are two columns where `spark.sql.caseSensitive` is true and a duplicate
    Spark refuses where it is not. Once the state exists, a setting changed at run time
    counts."""
    import json

    table = pg_table("fresh")
    pg_sql.execute(f'CREATE TABLE {table} (id int PRIMARY KEY, m money, "M" money)')
    pg_sql.execute(f"INSERT INTO {table} VALUES (1, 1.5, 2.25)")
    jars = spark.sparkContext.getConf().get("spark.jars").split(",")  # the JDBC drivers
    args = {"jars": jars, "pg": pg, "table": table,
            "conf": {"spark.sql.caseSensitive": "true"} if sensitive else {}}
    out = run_probe(_FRESH_SCHEMA_PROBE, json.dumps(args))
    assert out["sensitive"] is sensitive
    if sensitive:
        assert out["built after planning"] is False
        assert out["same as the frame's"] is True
        assert out["built at last"] is True  # the DataFrame's own analysis
    else:
        assert "COLUMN_ALREADY_EXISTS" in out["error"] and "`m`" in out["error"]
    assert out["sensitive at run time"] is not sensitive
