"""Derby (embedded, bundled with Spark): no catalog queries in the facts, no quantiles; the
driver's metadata finds the key and reads are split by stride."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.config.profiles import Connection, parse_connection
from dvt_connect.connectors.base import ReadRequest, TableRef
from dvt_connect.connectors.jdbc import JDBCConnector
from dvt_connect.connectors.jdbc.session import JdbcSession

pytestmark = pytest.mark.spark


@pytest.fixture
def derby(spark: Any, tmp_path: Path) -> Iterator[Connection]:
    connection = parse_connection("derby", {"type": "derby", "path": str(tmp_path / "db")},
                                  path=Path("profiles.yml"), key="test.derby")
    with JdbcSession(spark, connection) as session:
        session.execute("CREATE TABLE APP.EVENTS "
                        "(ID INT PRIMARY KEY, DAY DATE, HAPPENED TIMESTAMP)")
        start = date(2024, 2, 20)
        values = ", ".join(
            f"({i}, DATE('{start + timedelta(days=i % 17)}'), "
            f"TIMESTAMP('{start + timedelta(days=i % 13)} 12:{i % 60:02d}:00'))"
            for i in range(1, 401))
        session.execute(f"INSERT INTO APP.EVENTS VALUES {values}")
        session.execute("UPDATE APP.EVENTS SET DAY = NULL, HAPPENED = NULL WHERE MOD(ID, 25) = 0")
    yield connection
    with contextlib.suppress(Exception):  # Derby reports a clean shutdown as an exception
        spark._jvm.java.sql.DriverManager.getConnection(
            f"jdbc:derby:{tmp_path / 'db'};shutdown=true")


def test_derby_reads_split_on_the_key_and_on_dates(spark: Any, derby: Connection) -> None:
    conn = JDBCConnector(spark, derby)
    plan = conn.plan_read(ReadRequest(table=TableRef.parse("APP.EVENTS"), partitions=4))
    assert plan.partition_column == "ID" and len(plan.partitions) == 4
    assert any("cannot compute quantiles" in n for n in plan.notes)
    assert sorted(r["ID"] for r in conn.load(plan).collect()) == list(range(1, 401))

    for column in ("DAY", "HAPPENED"):
        plan = conn.plan_read(ReadRequest(table=TableRef.parse("APP.EVENTS"),
                                          partition_column=column, partitions=3))
        assert len(plan.partitions) == 3, column
        assert plan.partitions[1].predicate is not None
        assert f'"{column}" >= {"DATE" if column == "DAY" else "TIMESTAMP"}(' in (
            plan.partitions[1].predicate)
        rows = conn.load(plan).collect()
        assert sorted(r["ID"] for r in rows) == list(range(1, 401)), column
