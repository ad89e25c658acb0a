"""Microsoft SQL Server (and Azure SQL, Fabric): JDBC only."""

from __future__ import annotations

from dvt_connect.databases.spec import (
    CatalogQueries,
    Database,
    Dialect,
    ErrorRules,
    Merge,
    Swap,
    TypeMap,
    TypeRule,
)

DIALECT = Dialect(
    name="sqlserver",
    title="SQL Server",
    types={
        "boolean": "BIT",
        "byte": "SMALLINT",  # TINYINT is unsigned (0-255)
        "short": "SMALLINT",
        "integer": "INT",
        "long": "BIGINT",
        "float": "REAL",
        "double": "FLOAT(53)",
        "decimal": "DECIMAL({p},{s})",
        "varchar": "NVARCHAR({n})",
        "char": "NCHAR({n})",
        "binary": "VARBINARY(MAX)",
        "date": "DATE",
        "timestamp": "DATETIMEOFFSET(6)",
        "timestamp_ntz": "DATETIME2(6)",
        "time": "TIME(6)",
    },
    text_ladder=((None, "NVARCHAR(MAX)"),),
    varchar_limit=4_000,
    max_precision=38,
    max_identifier=128,
    drop_if_exists=True,
    swap=Swap(
        replace=("DROP TABLE {target}",
                 "EXEC sp_rename {stage_literal}, {target_name_literal}"),
        create=("EXEC sp_rename {stage_literal}, {target_name_literal}",),
    ),
    merge=Merge(
        statements=("MERGE INTO {target} WITH (HOLDLOCK) AS t USING {stage} AS s ON ({on}) "
                    "WHEN MATCHED THEN UPDATE SET {set} "
                    "WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values});",),
        insert_only=("MERGE INTO {target} WITH (HOLDLOCK) AS t USING {stage} AS s ON ({on}) "
                     "WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values});",),
        set_item="t.{col} = s.{value}",
        how="MERGE ... WITH (HOLDLOCK) in one transaction",
    ),
)

# Source types: Spark type, exact or lossy and why.
TYPES = TypeMap(rules=(
    TypeRule(("tinyint",), "short", why="unsigned 0-255 widened"),
    TypeRule(("smallint",), "short"), TypeRule(("int",), "integer"),
    TypeRule(("bigint",), "long"), TypeRule(("real",), "float"), TypeRule(("float",), "double"),
    TypeRule(("decimal", "numeric"), "decimal(p,s)"),
    TypeRule(("money", "smallmoney"), "decimal(19,4)"),
    TypeRule(("bit",), "boolean"),
    TypeRule(("char", "varchar", "nchar", "nvarchar", "text", "ntext"), "string"),
    TypeRule(("binary", "varbinary", "image"), "binary"),
    TypeRule(("date",), "date"),
    TypeRule(("datetime2", "datetime", "smalldatetime"), "timestamp_ntz",
             why="a wall time stays a wall time"),
    TypeRule(("datetimeoffset",), "timestamp", exact=False,
             why="the instant is kept, its UTC offset is not"),
    TypeRule(("time",), "timestamp_ntz (1970-01-01)", exact=False,
             why="Spark's JDBC source reads times with millisecond precision"),
    TypeRule(("uniqueidentifier", "xml"), "string (canonical text)",
             why="Spark has no such type: carried as its canonical text"),
))

SQLSERVER = Database(
    name="sqlserver",
    types=TYPES,
    kind="jdbc",
    url_template="jdbc:sqlserver://{host}:{port};databaseName={database}",
    default_port=1433,
    driver_class="com.microsoft.sqlserver.jdbc.SQLServerDriver",
    driver_packages=("com.microsoft.sqlserver:mssql-jdbc:12.8.1.jre11",),
    quote="[",
    catalog=CatalogQueries(default_schema="dbo"),
    required=("host", "user", "database"),
    aliases={"server": "host", "pass": "password", "username": "user", "UID": "user",
             "PWD": "password"},
    errors=ErrorRules(
        product="SQL Server",
        transient_codes=frozenset({
            1205,  # deadlock victim
            4060, 40197, 40501, 40613, 49918, 49919, 49920,  # Azure SQL: busy, failover
            10928, 10929,  # resource limits
        }),
        terminal_codes=frozenset({18456, 208, 207, 102, 229}),  # login, object, column, syntax
        code_kinds={18456: "auth"},
    ),
    ddl=DIALECT,
    type_aliases=("mssql", "fabric"),
)

DATABASES = (SQLSERVER,)
