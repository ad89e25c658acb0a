"""Our DDL as data, without a database: Spark type -> column type per dialect, names, swaps,
and the MariaDB URL fix."""

from __future__ import annotations

import pytest
from pyspark.sql import types as t

from dvt_connect.adapters import adapter
from dvt_connect.connectors.jdbc.ddl import (
    DIALECTS,
    OLD_MARK,
    STAGE_MARK,
    create_table_sql,
    dialect_for,
    insert_select_sql,
    plan_columns,
    side_table_name,
    swap_statements,
)
from dvt_connect.connectors.jdbc.session import mariadb_as_mysql
from dvt_connect.databases.postgres import SHORT_AUTOVACUUM_WAIT
from dvt_connect.errors import TransferError

ALL = t.StructType([
    t.StructField("b", t.BooleanType()),
    t.StructField("i8", t.ByteType()),
    t.StructField("i16", t.ShortType()),
    t.StructField("i32", t.IntegerType(), False),
    t.StructField("i64", t.LongType()),
    t.StructField("f32", t.FloatType()),
    t.StructField("f64", t.DoubleType()),
    t.StructField("dec", t.DecimalType(38, 10)),
    t.StructField("s", t.StringType()),
    t.StructField("vc", t.StringType(), metadata={"__CHAR_VARCHAR_TYPE_STRING": "varchar(50)"}),
    t.StructField("ch", t.StringType(), metadata={"__CHAR_VARCHAR_TYPE_STRING": "char(5)"}),
    t.StructField("bin", t.BinaryType()),
    t.StructField("d", t.DateType()),
    t.StructField("ts", t.TimestampType()),
    t.StructField("ntz", t.TimestampNTZType()),
])


def types_for(name: str, schema: t.StructType = ALL) -> dict[str, str]:
    return {c.name: c.sql_type for c in plan_columns(schema, DIALECTS[name]).columns}


def test_postgres_types() -> None:
    assert types_for("postgres") == {
        "b": "BOOLEAN", "i8": "SMALLINT", "i16": "SMALLINT", "i32": "INTEGER", "i64": "BIGINT",
        "f32": "REAL", "f64": "DOUBLE PRECISION", "dec": "NUMERIC(38,10)", "s": "TEXT",
        "vc": "VARCHAR(50)", "ch": "CHAR(5)", "bin": "BYTEA", "d": "DATE",
        "ts": "TIMESTAMPTZ(6)", "ntz": "TIMESTAMP(6)",
    }


def test_mariadb_types() -> None:
    assert types_for("mysql") == {
        "b": "BOOLEAN", "i8": "TINYINT", "i16": "SMALLINT", "i32": "INT", "i64": "BIGINT",
        "f32": "DOUBLE", "f64": "DOUBLE", "dec": "DECIMAL(38,10)", "s": "LONGTEXT",
        "vc": "VARCHAR(50)", "ch": "VARCHAR(5)", "bin": "LONGBLOB", "d": "DATE",
        "ts": "DATETIME(6)", "ntz": "DATETIME(6)",
    }
    assert dialect_for(adapter("mariadb")) is DIALECTS["mysql"]


def test_every_dialect_maps_every_scalar_type() -> None:
    narrow = t.StructType([t.StructField(f.name, t.DecimalType(31, 10))
                           if f.name == "dec" else f for f in ALL.fields])
    for name, dialect in DIALECTS.items():
        plan = plan_columns(narrow, dialect)
        assert len(plan.columns) == len(ALL.fields), name


def test_unknown_adapters_use_the_generic_dialect() -> None:
    assert dialect_for(adapter("trino")) is DIALECTS["generic"]
    assert dialect_for(adapter("derby")) is DIALECTS["derby"]


def test_create_table_quotes_names_and_keeps_not_null() -> None:
    facts = adapter("mariadb")
    schema = t.StructType([t.StructField("order", t.IntegerType(), False),
                           t.StructField("we`ird", t.TimestampType())])
    sql = create_table_sql(facts.quote_qualified("db", "t"),
                           plan_columns(schema, dialect_for(facts)), facts, dialect_for(facts))
    assert sql == ("CREATE TABLE `db`.`t` (`order` INT NOT NULL, `we``ird` DATETIME(6) "
                   "COMMENT 'UTC') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")


def test_mariadb_long_and_many_varchars_become_text() -> None:
    """VARCHAR until the row's 65,535-byte budget (4 bytes a character) runs out."""
    fields = [t.StructField(f"c{i}", t.StringType(),
                            metadata={"__CHAR_VARCHAR_TYPE_STRING": "varchar(1000)"})
              for i in range(20)]
    fields.append(t.StructField("big", t.StringType(),
                                metadata={"__CHAR_VARCHAR_TYPE_STRING": "varchar(70000)"}))
    types = types_for("mysql", t.StructType(fields))
    assert [types[f"c{i}"] for i in range(15)] == ["VARCHAR(1000)"] * 15
    assert types["c15"] == "TEXT"
    assert types["big"] == "MEDIUMTEXT"


def test_decimal_wider_than_the_target_fails_naming_the_column() -> None:
    schema = t.StructType([t.StructField("amount", t.DecimalType(38, 2)),
                           t.StructField("ok", t.DecimalType(31, 2))])
    with pytest.raises(TransferError, match=r"`amount`: decimal\(38,2\) is wider than Derby "
                                            r"allows \(precision up to 31\)"):
        plan_columns(schema, DIALECTS["derby"])


def test_nested_and_other_types_fail_with_every_column_named() -> None:
    schema = t.StructType([
        t.StructField("m", t.MapType(t.StringType(), t.IntegerType())),
        t.StructField("st", t.StructType([t.StructField("x", t.IntegerType())])),
        t.StructField("n", t.NullType()),
        t.StructField("iv", t.DayTimeIntervalType()),
        t.StructField("nested", t.ArrayType(t.ArrayType(t.IntegerType()))),
        t.StructField("A", t.IntegerType()),
        t.StructField("a", t.IntegerType()),
    ])
    with pytest.raises(TransferError) as caught:
        plan_columns(schema, DIALECTS["postgres"])
    text = str(caught.value)
    for part in ("`m`: map<string,int>", "`st`: struct<x:int>", "`n`: void",
                 "`iv`: interval day to second", "`nested`: array<array<int>>",
                 "`a` and `A` differ only by case"):
        assert part in text


def test_postgres_arrays_and_time_of_day() -> None:
    schema = t.StructType([
        t.StructField("tags", t.ArrayType(t.StringType())),
        t.StructField("amounts", t.ArrayType(t.DecimalType(10, 2))),
        t.StructField("at", t.TimestampNTZType(), metadata={"logical_time_type": True}),
    ])
    assert types_for("postgres", schema) == {"tags": "TEXT[]", "amounts": "NUMERIC(10,2)[]",
                                             "at": "TIME(6)"}
    with pytest.raises(TransferError, match="array<string> has no MySQL/MariaDB column type"):
        plan_columns(schema, DIALECTS["mysql"])


def test_sqlite_timestamps_warn() -> None:
    plan = plan_columns(ALL, DIALECTS["sqlite"])
    assert any(w.startswith("column `ts`: SQLite has no timestamp type") for w in plan.warnings)


def test_side_names_fit_the_identifier_limit() -> None:
    pg = DIALECTS["postgres"]
    name = side_table_name("é" * 60, STAGE_MARK, "0123abcd", pg)
    assert name.endswith("__dvt_stage_0123abcd") and len(name.encode()) <= 63
    assert side_table_name("orders", OLD_MARK, "ff", pg) == "orders__dvt_old_ff"


def test_swap_statements_per_dialect() -> None:
    def fill(name: str, which: str, facts_name: str | None = None) -> list[str]:
        facts = adapter(facts_name or name)
        swap = DIALECTS[name].swap
        return swap_statements(getattr(swap, which), facts=facts, schema="s", target="t",
                               stage="t__dvt_stage_1", old="t__dvt_old_1")

    assert fill("postgres", "replace") == [
        'DROP TABLE "s"."t"', 'ALTER TABLE "s"."t__dvt_stage_1" RENAME TO "t"']
    assert DIALECTS["postgres"].exclusive_lock_prelude == (SHORT_AUTOVACUUM_WAIT,)
    assert DIALECTS["duckdb"].exclusive_lock_prelude == ()
    assert fill("mysql", "replace", "mariadb") == [
        "RENAME TABLE `s`.`t` TO `s`.`t__dvt_old_1`, `s`.`t__dvt_stage_1` TO `s`.`t`"]
    assert fill("mysql", "after", "mariadb") == ["DROP TABLE `s`.`t__dvt_old_1`"]
    assert fill("sqlserver", "create") == [
        "EXEC sp_rename '[s].[t__dvt_stage_1]', 't'"]
    assert fill("derby", "create") == ['RENAME TABLE "s"."t__dvt_stage_1" TO "t"']
    assert fill("oracle", "undo") == ['ALTER TABLE "s"."t__dvt_old_1" RENAME TO "t"']


def test_insert_select_maps_columns_by_name() -> None:
    facts = adapter("postgres")
    assert insert_select_sql('"t"', '"st"', ("ID", "name"), ("id", "name"), facts) == \
        'INSERT INTO "t" ("ID", "name") SELECT "id", "name" FROM "st"'


@pytest.mark.parametrize(("url", "driver", "expected"), [
    ("jdbc:mariadb://h:3306/db", None, "jdbc:mysql://h:3306/db?permitMysqlScheme"),
    ("jdbc:mariadb://h/db?useSSL=true", None, "jdbc:mysql://h/db?useSSL=true&permitMysqlScheme"),
    ("jdbc:mysql://h/db", "org.mariadb.jdbc.Driver", "jdbc:mysql://h/db?permitMysqlScheme"),
    ("jdbc:mysql://h/db", "com.mysql.cj.jdbc.Driver", "jdbc:mysql://h/db"),
    ("jdbc:postgresql://h/db", "org.postgresql.Driver", "jdbc:postgresql://h/db"),
])
def test_mariadb_urls_reach_spark_as_mysql(url: str, driver: str | None, expected: str) -> None:
    props = {"user": "u"} | ({"driver": driver} if driver else {})
    new_url, new_props = mariadb_as_mysql(url, props)
    assert new_url == expected
    if url.startswith("jdbc:mariadb:"):
        assert new_props["driver"] == "org.mariadb.jdbc.Driver"
