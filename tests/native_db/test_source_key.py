"""An overwrite into MySQL/MariaDB creates the table with the source's primary key when its
columns compare exactly in every database (integers, decimals, dates, instants), and the loading
tasks then load the staging table at once instead of taking turns. Moved by the product's own
``transfer()`` on the real servers; the target read back with PyMySQL and compared with the
source read with psycopg."""

from __future__ import annotations

import threading
from typing import Any

import pyarrow as pa
import pytest
from write.fixtures import (
    mariadb_client,
    mariadb_connection,
    pg_client,
    pg_connection,
)

from dvt_connect.connectors.arrow_bulk.tasks import BulkWrite
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.mysql_native import driver
from dvt_connect.errors import DvtError
from dvt_connect.transfer.run import plan_transfer, transfer

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.mariadb]

KEPT = "kept from the source"


def _pg_table(pg: dict[str, Any], table: str, key: str, rows: int = 3_000) -> None:
    """``rows`` rows keyed by (``id``) or (``k``, ``day``) or by the text column ``code``."""
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id bigint NOT NULL, k integer NOT NULL, "
                    f"day date NOT NULL, code varchar(12) NOT NULL, amount numeric(12,2), "
                    f"note text, PRIMARY KEY ({key}))")
        cur.execute(f"INSERT INTO {table} SELECT g, g % 7, DATE '2024-01-01' + (g / 7), "
                    f"'c' || g, g * 1.25, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END "
                    f"FROM generate_series(1, {rows}) g")
        cur.execute(f"ANALYZE {table}")


def _source(pg: dict[str, Any], table: str) -> list[tuple[Any, ...]]:
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, k, day, code, amount, note FROM {table} ORDER BY id")
        return [tuple(r) for r in cur.fetchall()]


def _target(mariadb: dict[str, Any], table: str) -> tuple[list[tuple[Any, ...]], str]:
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, k, day, code, amount, note FROM {table} ORDER BY id")
        rows = [tuple(r) for r in cur.fetchall()]
        cur.execute(f"SHOW CREATE TABLE {table}")
        return rows, str(cur.fetchone()[1])


def _move(spark: Any, pg: dict[str, Any], mariadb: dict[str, Any], source: str, target: str,
          *, mode: str = "overwrite", connector: str = "native", **read: Any) -> Any:
    return transfer(spark, pg_connection(pg), mariadb_connection(mariadb),
                    ReadRequest(table=TableRef(source), **read),
                    WriteRequest(table=TableRef(target), mode=mode), connector=connector)


@pytest.mark.parametrize("connector", ["native", "jdbc"])
def test_an_overwrite_keeps_an_integer_primary_key(spark: Any, pg: dict[str, Any],
                                                   mariadb: dict[str, Any], pg_names: Any,
                                                   maria_names: Any, connector: str) -> None:
    source, target = pg_names("key_src"), maria_names("key_out")
    _pg_table(pg, source, "id")
    stats = _move(spark, pg, mariadb, source, target, connector=connector, partitions=3)
    rows, ddl = _target(mariadb, target)
    assert rows == _source(pg, source)
    assert "PRIMARY KEY (`id`)" in ddl
    assert stats.partitions == 3
    assert any(KEPT in n and "(id)" in n for n in stats.notes), stats.notes


def test_a_composite_key_of_an_integer_and_a_date_is_kept(spark: Any, pg: dict[str, Any],
                                                          mariadb: dict[str, Any],
                                                          pg_names: Any,
                                                          maria_names: Any) -> None:
    source, target = pg_names("key2_src"), maria_names("key2_out")
    _pg_table(pg, source, "k, day")
    _move(spark, pg, mariadb, source, target)
    rows, ddl = _target(mariadb, target)
    assert rows == _source(pg, source)
    assert "PRIMARY KEY (`k`,`day`)" in ddl


def test_a_text_key_is_not_kept(spark: Any, pg: dict[str, Any], mariadb: dict[str, Any],
                                pg_names: Any, maria_names: Any) -> None:
    """MariaDB's collations ignore trailing spaces: 'a' and 'a ' would collide on a key."""
    source, target = pg_names("keyt_src"), maria_names("keyt_out")
    _pg_table(pg, source, "code")
    plan, _, _ = plan_transfer(spark, pg_connection(pg), mariadb_connection(mariadb),
                               ReadRequest(table=TableRef(source)),
                               WriteRequest(table=TableRef(target)), connector="native")
    assert plan.read.primary_key == ("code",) and plan.write.source_key == ()
    stats = _move(spark, pg, mariadb, source, target)
    rows, ddl = _target(mariadb, target)
    assert rows == _source(pg, source)
    assert "PRIMARY KEY" not in ddl
    assert not any(KEPT in n for n in stats.notes)


@pytest.mark.parametrize("how", ["append", "columns without the key", "query"])
def test_no_key_where_the_table_is_appended_to_or_the_key_is_not_read(
        spark: Any, pg: dict[str, Any], mariadb: dict[str, Any], pg_names: Any,
        maria_names: Any, how: str) -> None:
    """A later append could send a key again (a lookback, a re-run): only an overwrite, which
    replaces the whole table, takes the key; a read without every key column has none."""
    source, target = pg_names("keyn_src"), maria_names("keyn_out")
    _pg_table(pg, source, "id", rows=200)
    if how == "query":
        stats = transfer(spark, pg_connection(pg), mariadb_connection(mariadb),
                         ReadRequest(query=f"SELECT * FROM {source}"),
                         WriteRequest(table=TableRef(target)), connector="native")
    elif how == "append":
        stats = _move(spark, pg, mariadb, source, target, mode="append")
    else:
        stats = _move(spark, pg, mariadb, source, target, columns=("k", "code"))
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW CREATE TABLE {target}")
        assert "PRIMARY KEY" not in str(cur.fetchone()[1])
    assert stats.rows == 200 and not any(KEPT in n for n in stats.notes)


def test_a_postgres_target_gets_no_key(spark: Any, pg: dict[str, Any], pg_names: Any) -> None:
    """PostgreSQL does not store rows in key order: a key there is one more index to build."""
    source, target = pg_names("keyp_src"), pg_names("keyp_out")
    _pg_table(pg, source, "id", rows=100)
    stats = transfer(spark, pg_connection(pg), pg_connection(pg),
                     ReadRequest(table=TableRef(source)), WriteRequest(table=TableRef(target)),
                     connector="native")
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass",
                    (target,))
        assert cur.fetchone()[0] == 0
    assert stats.rows == 100 and not any(KEPT in n for n in stats.notes)


def test_a_keyed_staging_table_is_loaded_without_taking_turns(mariadb: dict[str, Any],
                                                              maria_names: Any) -> None:
    """While another task holds the table's turn, a task loading a keyed table goes on."""
    table = maria_names("loadkey")
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, code VARCHAR(8))")
    params = {k: mariadb[k] for k in ("host", "port", "user", "database")}
    spec = BulkWrite(dialect="mysql", params=params, schema=None, table=table,
                     columns=("id", "code"), chunk_rows=1_000, keyed=True)
    batches = (pa.RecordBatch.from_pydict({"id": pa.array(range(b * 700, (b + 1) * 700),
                                                            pa.int64()),
                                           "code": pa.array([f"c{i}" for i in range(700)])})
               for b in range(2))
    done: list[tuple[int, int]] = []
    with mariadb_client(mariadb) as holder, holder.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0)", (driver.load_lock(spec),))
        assert cur.fetchone()[0] == 1
        task = threading.Thread(target=lambda: done.append(driver.load_batches(
            spec, mariadb.get("password"), batches)))
        task.start()
        task.join(60)
        assert not task.is_alive()
        with mariadb_client(mariadb) as conn, conn.cursor() as check:
            check.execute(f"SELECT count(*), sum(id) FROM {table}")  # loaded during the turn
            assert tuple(int(v) for v in check.fetchone()) == (1_400, sum(range(1_400)))
        cur.execute("SELECT RELEASE_LOCK(%s)", (driver.load_lock(spec),))
    assert done == [(1_400, done[0][1])]


def test_a_key_allowed_to_lose_precision_is_not_kept(spark: Any, pg: dict[str, Any],
                                                     mariadb: dict[str, Any], pg_names: Any,
                                                     maria_names: Any) -> None:
    """An unconstrained ``numeric`` key read with --allow-lossy could round two keys to one."""
    source, target = pg_names("keyl_src"), maria_names("keyl_out")
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {source} (k numeric PRIMARY KEY, v integer)")
        cur.execute(f"INSERT INTO {source} VALUES (1.5, 1), (2, 2)")
    plan, _, _ = plan_transfer(spark, pg_connection(pg), mariadb_connection(mariadb),
                               ReadRequest(table=TableRef(source)),
                               WriteRequest(table=TableRef(target)), connector="native",
                               allow_lossy=("k",))
    assert plan.read.primary_key == ("k",) and plan.write.source_key == ()
    stats = transfer(spark, pg_connection(pg), mariadb_connection(mariadb),
                     ReadRequest(table=TableRef(source)), WriteRequest(table=TableRef(target)),
                     connector="native", allow_lossy=("k",))
    with mariadb_client(mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW CREATE TABLE {target}")
        assert "PRIMARY KEY" not in str(cur.fetchone()[1])
    assert stats.rows == 2 and not any(KEPT in n for n in stats.notes)


def test_an_append_of_keys_the_table_holds_is_refused_and_writes_nothing(
        spark: Any, pg: dict[str, Any], mariadb: dict[str, Any], pg_names: Any,
        maria_names: Any) -> None:
    source, target = pg_names("keya_src"), maria_names("keya_out")
    _pg_table(pg, source, "id", rows=300)
    _move(spark, pg, mariadb, source, target)
    with pytest.raises(DvtError, match="Duplicate entry"):
        _move(spark, pg, mariadb, source, target, mode="append")
    rows, ddl = _target(mariadb, target)
    assert rows == _source(pg, source) and "PRIMARY KEY (`id`)" in ddl
