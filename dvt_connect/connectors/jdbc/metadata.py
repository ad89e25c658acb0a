"""Column metadata and table listings read over a :class:`~.session.JdbcSession`.

The planner needs more than names: each column's JDBC type, scale and nullability decide whether
and how a read can be split on it. Values come from the driver's ``ResultSetMetaData`` of a
``WHERE 1=0`` query, so no row is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from dvt_connect.connectors.jdbc.session import JdbcSession
from dvt_connect.connectors.jdbc.sql import column_kind
from dvt_connect.databases import database
from dvt_connect.databases.spec import Database
from dvt_connect.partitioning import ColumnKind


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a relation, as the driver describes it."""

    name: str
    jdbc_type: int
    type_name: str
    scale: int
    nullable: bool
    precision: int = 0

    @property
    def kind(self) -> ColumnKind | None:
        return column_kind(self.jdbc_type, self.scale, self.precision)


# java.sql.Types
_NUMERIC, _DECIMAL = 2, 3
SPARK_MAX_DECIMAL = 38


def lossy_reads(columns: list[ColumnInfo] | tuple[ColumnInfo, ...], facts: Database | str,
                selected: tuple[str, ...] = ()) -> list[str]:
    """Columns whose values Spark's JDBC source cannot hold exactly, each with what happens and
    what to do: a read must say so rather than change values silently. Wide decimals for every
    database; the rest is each database's :attr:`~dvt_connect.databases.spec.Database.lossy_reads`.
    """
    if isinstance(facts, str):
        facts = database(facts)
    own = {rule.jdbc_type: rule.message for rule in facts.lossy_reads}
    problems = []
    for col in columns:
        if selected and col.name not in selected:
            continue
        if col.jdbc_type in (_NUMERIC, _DECIMAL) and (
                col.precision > SPARK_MAX_DECIMAL or col.precision <= 0):
            declared = (f"{col.type_name}({col.precision},{col.scale})" if col.precision > 0
                        else f"{col.type_name} without a declared precision")
            problems.append(
                f"column `{col.name}` is {declared} at the source; Spark holds at most "
                f"{SPARK_MAX_DECIMAL} digits, so values with more digits are rounded or fail. "
                "To keep them exact, cast the column to text in --query.")
        elif col.jdbc_type in own:
            problems.append(own[col.jdbc_type].format(name=col.name, type_name=col.type_name))
    return problems


def describe_columns(session: JdbcSession, relation_sql: str) -> list[ColumnInfo]:
    """The columns of a table or a parenthesised, aliased subquery."""
    statement = session.conn.createStatement()
    try:
        meta = statement.executeQuery(f"SELECT * FROM {relation_sql} WHERE 1=0").getMetaData()
        return [
            ColumnInfo(
                name=str(meta.getColumnLabel(i)),
                jdbc_type=int(meta.getColumnType(i)),
                type_name=str(meta.getColumnTypeName(i)),
                scale=int(meta.getScale(i)),
                # columnNoNulls is 0; columnNullableUnknown (2) must count as nullable
                nullable=int(meta.isNullable(i)) != 0,
                precision=int(meta.getPrecision(i)),
            )
            for i in range(1, int(meta.getColumnCount()) + 1)
        ]
    finally:
        statement.close()


def first_column(session: JdbcSession, sql: str,
                 timeout: int | None = None) -> list[str | None]:
    """The first value of every row of ``sql``, as text (cancelled after ``timeout`` s)."""
    return [None if row[0] is None else str(row[0]) for row in session.query(sql, timeout)]


# What a user means by a table: tables and views, not indexes, sequences or system tables.
TABLE_TYPES = frozenset({"TABLE", "BASE TABLE", "VIEW", "MATERIALIZED VIEW",
                         "PARTITIONED TABLE", "FOREIGN TABLE"})


def table_names(session: JdbcSession, schema: str | None, *, schema_is_catalog: bool,
                pattern: str = "%", limit: int = 10_000) -> list[str]:
    """Tables and views in ``schema`` (every schema when None) whose names match the LIKE
    ``pattern`` (for "did you mean" hints and the leftovers of killed runs)."""
    return [name for _, name in table_entries(session, schema, schema_is_catalog=schema_is_catalog,
                                              pattern=pattern, limit=limit)]


def table_entries(session: JdbcSession, schema: str | None, *, schema_is_catalog: bool,
                  pattern: str = "%", limit: int = 10_000) -> list[tuple[str | None, str]]:
    """(schema, name) of the tables and views matching ``pattern``; the driver's metadata also
    lists indexes, sequences and system tables, which are left out."""
    meta = session.conn.getMetaData()
    if schema_is_catalog:
        result = meta.getTables(schema, None, pattern, None)
    else:
        result = meta.getTables(None, schema, pattern, None)
    found: list[tuple[str | None, str]] = []
    try:
        while result.next() and len(found) < limit:
            if str(result.getString(4) or "TABLE").upper() in TABLE_TYPES:
                where = result.getString(1) if schema_is_catalog else result.getString(2)
                found.append((None if where is None else str(where), str(result.getString(3))))
    finally:
        result.close()
    return found


def key_columns(session: JdbcSession, schema: str | None, table: str, *,
                schema_is_catalog: bool) -> list[str]:
    """The primary key's columns in key order, from the driver's ``DatabaseMetaData`` (for
    databases whose catalog queries are not in the adapter facts)."""
    catalog, schema_name = (schema, None) if schema_is_catalog else (None, schema)
    result = session.conn.getMetaData().getPrimaryKeys(catalog, schema_name, table)
    found: list[tuple[int, str]] = []
    try:
        while result.next():
            found.append((int(result.getShort("KEY_SEQ")), str(result.getString("COLUMN_NAME"))))
    finally:
        result.close()
    return [name for _, name in sorted(found)]


def leading_index_columns(session: JdbcSession, schema: str | None, table: str, *,
                          schema_is_catalog: bool) -> list[str]:
    """The first column of every index on the table, from ``DatabaseMetaData.getIndexInfo``
    (approximate: no statistics are computed)."""
    catalog, schema_name = (schema, None) if schema_is_catalog else (None, schema)
    result = session.conn.getMetaData().getIndexInfo(catalog, schema_name, table, False, True)
    found: list[str] = []
    try:
        while result.next():
            name = result.getString("COLUMN_NAME")
            if name is not None and int(result.getShort("ORDINAL_POSITION")) == 1:
                found.append(str(name))
    finally:
        result.close()
    return found
