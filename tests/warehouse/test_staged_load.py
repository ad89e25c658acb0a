"""The staged write with a load statement from ``fill`` (a warehouse's COPY from the bucket):
it runs first in the swap's (or the insert's) transaction, so a failed load leaves the target
as it was. Pure: a recording session stands in for the database, no Spark session runs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.base import TableRef, WriteRequest
from dvt_connect.connectors.staging import Stage, staged_write


class Recorder:
    def __init__(self, existing: list[str] | None, fail_on: str | None = None) -> None:
        self.existing = existing
        self.fail_on = fail_on
        self.log: list[tuple[str, Any]] = []

    def execute(self, sql: str) -> None:
        self.log.append(("execute", sql))

    def transaction(self, statements: list[str]) -> None:
        self.log.append(("transaction", list(statements)))
        if self.fail_on and any(s.startswith(self.fail_on) for s in statements):
            raise RuntimeError("load failed")

    def current_schema(self) -> str | None:
        return "public"

    def table_kind(self, schema: str | None, name: str) -> str | None:
        return "table" if self.existing is not None else None

    def columns(self, schema: str | None, name: str) -> list[str]:
        return list(self.existing or [])

    def close(self) -> None:
        pass


_REDSHIFT = {"type": "redshift", "host": "h", "user": "u", "password": "p", "dbname": "dev"}
_SNOWFLAKE = {"type": "snowflake", "account": "acme", "user": "u", "password": "p",
              "database": "DB", "schema": "PUBLIC"}


def _write(db: Recorder, mode: str, output: dict[str, str] = _REDSHIFT, schema: str = "public",
           load: str = "COPY {stage} FROM 's3://b/dvt/r/' FORMAT AS PARQUET") -> Any:
    from pyspark.sql.types import LongType, StructField, StructType

    conn = parse_connection("out", dict(output), path=Path("profiles.yml"), key="p.outputs.out")
    df = SimpleNamespace(schema=StructType([StructField("id", LongType())]))

    def fill(stage: Stage) -> list[str]:
        return [load.format(stage=stage.sql)]

    return staged_write(conn, df, WriteRequest(table=TableRef("t", schema), mode=mode),  # type: ignore[arg-type]
                        open_session=lambda: db, fill=fill)


def _snowflake_write(db: Recorder, mode: str) -> Any:
    return _write(db, mode, _SNOWFLAKE, "PUBLIC",
                  "COPY INTO {stage} FROM 's3://b/dvt/r/' FILE_FORMAT = (TYPE = PARQUET)")


@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_the_load_runs_in_the_same_transaction_as_the_swap_or_insert(mode: str) -> None:
    db = Recorder(existing=["id"])
    _write(db, mode)
    [transaction] = [entry for kind, entry in db.log if kind == "transaction"]
    assert transaction[0].startswith('COPY "public"."t__dvt_stage_')
    assert transaction[1].startswith("DROP TABLE" if mode == "overwrite" else "INSERT INTO")


def test_a_failed_load_drops_the_stage_and_never_touches_the_target() -> None:
    db = Recorder(existing=["id"], fail_on="COPY")
    with pytest.raises(RuntimeError, match="load failed"):
        _write(db, "overwrite")
    assert db.log[-1][0] == "execute" and db.log[-1][1].startswith("DROP TABLE IF EXISTS")
    assert '__dvt_stage_' in db.log[-1][1]


def test_snowflake_replaces_the_target_with_one_swap_statement() -> None:
    """Snowflake commits each DDL statement by itself: the load, then ALTER TABLE ... SWAP WITH
    (one atomic statement), then the staging table, now holding the previous rows, is dropped."""
    db = Recorder(existing=["id"])
    _snowflake_write(db, "overwrite")
    executed = [sql for kind, sql in db.log if kind == "execute"]
    create, load, swap, drop = executed
    assert create.startswith('CREATE TABLE "PUBLIC"."t__dvt_stage_')
    assert '"id" NUMBER(19,0)' in create
    assert load.startswith('COPY INTO "PUBLIC"."t__dvt_stage_')
    stage = load.split()[2]
    assert swap == f'ALTER TABLE {stage} SWAP WITH "PUBLIC"."t"'
    assert drop == f"DROP TABLE {stage}"
    assert not [entry for kind, entry in db.log if kind == "transaction"]


def test_snowflake_failed_swap_leaves_the_target_and_drops_only_the_stage() -> None:
    class FailingSwap(Recorder):
        def execute(self, sql: str) -> None:
            super().execute(sql)
            if " SWAP WITH " in sql:
                raise RuntimeError("swap refused")

    db = FailingSwap(existing=["id"])
    with pytest.raises(RuntimeError, match="swap refused"):
        _snowflake_write(db, "overwrite")
    executed = [sql for kind, sql in db.log if kind == "execute"]
    assert executed[-1].startswith('DROP TABLE IF EXISTS "PUBLIC"."t__dvt_stage_')
    assert not any(sql.startswith('DROP TABLE "PUBLIC"."t"') for sql in executed)
