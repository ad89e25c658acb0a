"""Oracle Database: JDBC only. DDL commits itself, so a swap is two renames."""

from __future__ import annotations

from dvt_connect.databases.spec import Database, Dialect, ErrorRules, Merge, Swap, TypeMap, TypeRule

DIALECT = Dialect(
    name="oracle",
    title="Oracle",
    types={
        "boolean": "NUMBER(1)",
        "byte": "NUMBER(3)",
        "short": "NUMBER(5)",
        "integer": "NUMBER(10)",
        "long": "NUMBER(19)",
        "float": "BINARY_FLOAT",
        "double": "BINARY_DOUBLE",
        "decimal": "NUMBER({p},{s})",
        "varchar": "VARCHAR2({n} CHAR)",
        "char": "CHAR({n} CHAR)",
        "binary": "BLOB",
        "date": "DATE",
        "timestamp": "TIMESTAMP(6) WITH TIME ZONE",
        "timestamp_ntz": "TIMESTAMP(6)",
    },
    text_ladder=((None, "CLOB"),),
    varchar_limit=1_000,
    max_precision=38,
    max_identifier=128,
    drop_if_exists=False,
    swap=Swap(
        replace=("ALTER TABLE {target} RENAME TO {old_name}",
                 "ALTER TABLE {stage} RENAME TO {target_name}"),
        create=("ALTER TABLE {stage} RENAME TO {target_name}",),
        after=("DROP TABLE {old} PURGE",),
        undo=("ALTER TABLE {old} RENAME TO {target_name}",),
        transactional=False,
        atomic=False,
        how="renamed in two statements (Oracle commits each DDL statement; for a "
            "moment the target name is free)",
    ),
    merge=Merge(
        statements=("MERGE INTO {target} t USING {stage} s ON ({on}) "
                    "WHEN MATCHED THEN UPDATE SET {set} "
                    "WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})",),
        insert_only=("MERGE INTO {target} t USING {stage} s ON ({on}) "
                     "WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})",),
        set_item="t.{col} = s.{value}",
        how="MERGE in one transaction",
    ),
)

# Source types: Spark type, exact or lossy and why.
TYPES = TypeMap(rules=(
    TypeRule(("number",), "decimal(38,10)", exact=False, wide=True,
             why="NUMBER without precision: Spark reads it as decimal(38,10), rounding after "
                 "10 places; cast to NUMBER(p,s) in --query"),
    TypeRule(("number",), "decimal(p,s)"),
    TypeRule(("binary_float",), "float"), TypeRule(("binary_double",), "double"),
    TypeRule(("float",), "decimal(38,10)", exact=False,
             why="FLOAT(126) holds 126 binary digits"),
    TypeRule(("varchar2", "nvarchar2", "char", "nchar", "clob", "nclob"), "string"),
    TypeRule(("raw", "blob"), "binary"),
    TypeRule(("date",), "timestamp_ntz", why="an Oracle DATE is a wall time with seconds"),
    TypeRule(("timestamp",), "timestamp_ntz", why="a wall time stays a wall time"),
    TypeRule(("timestamp with time zone", "timestamp with local time zone"), "timestamp",
             why="an instant stays an instant (its zone name is not kept)"),
    TypeRule(("interval year to month", "interval day to second", "xmltype", "json"),
             "string (canonical text)", why="carried as its canonical text"),
))

ORACLE = Database(
    name="oracle",
    types=TYPES,
    kind="jdbc",
    url_template="jdbc:oracle:thin:@//{host}:{port}/{database}",
    default_port=1521,
    driver_class="oracle.jdbc.OracleDriver",
    driver_packages=("com.oracle.database.jdbc:ojdbc11:23.6.0.24.10",),
    required=("host", "user"),
    aliases={"pass": "password", "service": "database", "dbname": "database",
             "username": "user"},
    errors=ErrorRules(
        product="Oracle",
        transient_codes=frozenset({
            60,  # deadlock
            3113, 3114, 3135,  # end-of-file on communication channel, not connected
            12514, 12516, 12519, 12520, 12521, 12528, 12537,  # listener: busy, not ready
            12541, 12560, 12571,
        }),
        terminal_codes=frozenset({1017, 942, 904, 900, 1031}),  # login, table, column, syntax
        code_kinds={1017: "auth", 942: "query", 904: "query"},
    ),
    ddl=DIALECT,
    # Oracle does not compare a DATE/TIMESTAMP column with an ISO string
    literals={"date": "DATE {}", "timestamp": "TIMESTAMP {}"},
)

DATABASES = (ORACLE,)
