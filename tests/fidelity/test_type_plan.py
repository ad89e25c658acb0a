"""The column plan and every database's TypeMap, without a database: pure functions over the
facts in dvt_connect/databases."""

from __future__ import annotations

import pytest
from pyspark.sql import types as t

from dvt_connect.connectors.typeplan import (
    SourceType,
    plan_types,
    read_overrides,
    same_types,
)
from dvt_connect.databases import DATABASES, database
from dvt_connect.errors import TransferError

PG, MARIADB, MYSQL = database("postgres"), database("mariadb"), database("mysql")


def test_mysql_decimal_scale_over_30_is_refused_at_plan_time_naming_the_column():
    schema = t.StructType([t.StructField("tiny", t.DecimalType(38, 35))])
    with pytest.raises(TransferError, match=r"`tiny`: decimal\(38,35\).*scale up to 30"):
        plan_types(PG, [SourceType("tiny", "numeric", 38, 35)], schema, MYSQL)
    plan = plan_types(PG, [SourceType("tiny", "numeric", 38, 35)], schema, MARIADB)
    assert plan.columns[0].target == "decimal(38,35)" and plan.columns[0].exact


def test_unbounded_numeric_travels_as_text_into_postgres_and_is_refused_elsewhere():
    column = SourceType("amount", "numeric", 0, 0)
    assert read_overrides(PG, [column], PG) == {"amount": "string"}
    assert read_overrides(PG, [column], MARIADB) == {}
    text = t.StructType([t.StructField("amount", t.StringType())])
    same = plan_types(PG, [column], text, PG, read_as={"amount": "string"})
    assert same.declared == {"amount": "numeric"}
    assert same.columns[0].exact and same.columns[0].target == "numeric"
    same.check("pg")

    spark_default = t.StructType([t.StructField("amount", t.DecimalType(38, 18))])
    other = plan_types(PG, [column], spark_default, MARIADB)
    assert not other.columns[0].exact
    with pytest.raises(TransferError, match=r"`amount` is numeric -> Spark decimal\(38,18\) "
                                            r"-> decimal\(38,18\).*38"):
        other.check("maria")
    allowed = plan_types(PG, [column], spark_default, MARIADB, allow_lossy=["AMOUNT"])
    assert allowed.columns[0].allowed
    allowed.check("maria")


def test_same_database_keeps_declared_types():
    columns = [SourceType("u", "uuid"), SourceType("j", "jsonb"),
               SourceType("n", "numeric", 12, 2), SourceType("v", "varchar", 40),
               SourceType("tm", "time", 15, 6)]
    read_as = read_overrides(PG, columns, PG)
    assert read_as == {"tm": "string"}
    schema = t.StructType([t.StructField("u", t.StringType()),
                           t.StructField("j", t.StringType()),
                           t.StructField("n", t.DecimalType(12, 2)),
                           t.StructField("v", t.StringType()),
                           t.StructField("tm", t.StringType())])
    plan = plan_types(PG, columns, schema, PG, read_as=read_as)
    assert {c.name: c.target for c in plan.columns} == {
        "u": "uuid", "j": "jsonb", "n": "numeric(12,2)", "v": "varchar(40)", "tm": "time"}
    assert all(c.exact for c in plan.columns)
    # into MariaDB the same columns are text (exact as text) and the time is refused
    into_maria = plan_types(PG, columns, schema, MARIADB, read_as={})
    assert [c.name for c in into_maria.refused] == ["tm"]


def test_mysql_family_types():
    assert same_types(MYSQL, MARIADB)
    assert MARIADB.jdbc_properties["tinyInt1isBit"] == "false"
    assert MYSQL.jdbc_properties["tinyInt1isBit"] == "false"
    rule = MARIADB.types.rule("TINYINT")
    assert rule is not None and rule.exact
    assert MARIADB.types.rule("YEAR").read_as == "int"  # type: ignore[union-attr]
    assert not MARIADB.types.rule("FLOAT").exact  # type: ignore[union-attr]
    assert MARIADB.types.rule("DECIMAL", wide=True).declared == "decimal({p},{s})"  # type: ignore[union-attr]
    assert not MARIADB.ddl.holds_nan and PG.ddl.holds_nan  # type: ignore[union-attr]


def test_files_target_plan_shows_the_file_type():
    schema = t.StructType([t.StructField("ts", t.TimestampNTZType())])
    plan = plan_types(PG, [SourceType("ts", "timestamp", 29, 6)], schema, None,
                      target_format="parquet")
    assert plan.describe() == [{"name": "ts", "source_type": "timestamp",
                                "spark_type": "timestamp_ntz",
                                "target_type": "parquet timestamp_ntz", "exact": True,
                                "why": "a wall time stays a wall time",
                                "allowed_lossy": False}]


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_every_type_rule_is_exact_or_says_why_it_is_lossy(name):
    for rule in database(name).types.rules:
        assert rule.names and all(n == n.lower() for n in rule.names), rule
        assert rule.spark
        if not rule.exact:
            assert rule.why, f"{name}: {rule.names} is lossy without saying why"


# Each database's TypeMap, against the vendor's documented type list: the types a user meets.
DOCUMENTED = {
    "postgres": ["int2", "int4", "int8", "float4", "float8", "numeric", "bool", "varchar",
                 "bpchar", "text", "bytea", "date", "timestamp", "timestamptz", "time",
                 "interval", "uuid", "json", "jsonb", "inet", "cidr", "money", "bit"],
    "mariadb": ["tinyint", "smallint", "mediumint", "int", "bigint", "bigint unsigned",
                "float", "double", "decimal", "bit", "char", "varchar", "text", "json",
                "blob", "date", "datetime", "timestamp", "time", "year"],
    "derby": ["smallint", "integer", "bigint", "real", "double", "decimal", "boolean", "char",
              "varchar", "clob", "blob", "date", "timestamp", "time"],
    "sqlite": ["integer", "real", "text", "blob", "numeric"],
    "duckdb": ["tinyint", "smallint", "integer", "bigint", "hugeint", "ubigint", "float",
               "double", "decimal", "boolean", "varchar", "blob", "date", "timestamp",
               "timestamp with time zone", "time", "uuid", "json", "interval"],
    "sqlserver": ["tinyint", "smallint", "int", "bigint", "real", "float", "decimal", "money",
                  "bit", "nvarchar", "varbinary", "date", "datetime2", "datetime",
                  "datetimeoffset", "time", "uniqueidentifier", "xml"],
    "oracle": ["number", "binary_float", "binary_double", "varchar2", "nvarchar2", "clob",
               "raw", "blob", "date", "timestamp", "timestamp with time zone"],
    # warehouses: each vendor's documented type list
    "snowflake": ["number", "float", "varchar", "binary", "boolean", "date", "timestamp_ntz",
                  "timestamp_ltz", "timestamp_tz", "time", "variant", "object", "array"],
    "bigquery": ["int64", "float64", "numeric", "bignumeric", "bool", "string", "bytes",
                 "date", "datetime", "timestamp", "time", "json", "geography", "array",
                 "struct"],
    "redshift": ["int2", "int4", "int8", "float4", "float8", "numeric", "bool", "varchar",
                 "bpchar", "date", "timestamp", "timestamptz", "time", "super", "varbyte"],
}


def test_wide_numbers_are_lossy_where_spark_cannot_hold_them():
    assert not database("oracle").types.rule("NUMBER", wide=True).exact  # type: ignore[union-attr]
    assert database("oracle").types.rule("NUMBER").exact  # type: ignore[union-attr]
    assert not database("bigquery").types.rule("BIGNUMERIC").exact  # type: ignore[union-attr]
    assert not database("duckdb").types.rule("HUGEINT").exact  # type: ignore[union-attr]
    assert not database("sqlserver").types.rule("datetimeoffset").exact  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_types_all_have_a_rule(name):
    types = database(name).types
    missing = [n for n in DOCUMENTED[name] if types.rule(n) is None]
    assert missing == []
