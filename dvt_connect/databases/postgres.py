"""PostgreSQL: JDBC, catalog statistics for planning, transactional DDL, and the Arrow bulk path
(binary COPY; :mod:`dvt_connect.connectors.postgres_native`)."""

from __future__ import annotations

from dataclasses import dataclass

from dvt_connect.databases.connection import Connection
from dvt_connect.databases.spec import (
    CatalogQueries,
    Checksum,
    Database,
    Dialect,
    ErrorRules,
    Lock,
    LossyRead,
    Merge,
    NativeFacts,
    ReaderLibrary,
    Swap,
    TypeMap,
    TypeRule,
)

# java.sql.Types.TIME
_TIME = 92


@dataclass(frozen=True, repr=False)
class PostgresConnection(Connection):
    """A PostgreSQL output (also Redshift's): ``sslmode`` goes to the driver."""

    def type_properties(self) -> dict[str, str]:
        return {"sslmode": self.sslmode} if self.sslmode else {}


CATALOG = CatalogQueries(
    row_estimate=(
        "SELECT GREATEST(c.reltuples, 0)::bigint FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = {schema} AND c.relname = {table}"
    ),
    primary_key=(
        "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indisprimary AND n.nspname = {schema} AND c.relname = {table}"
    ),
    indexed_columns=(
        "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
        "WHERE n.nspname = {schema} AND c.relname = {table}"
    ),
    default_schema="public",
    quantiles="percentile_disc",
    # ANALYZE's histogram (about 30,000 sampled rows, 100 buckets at the default statistics
    # target): taken while fewer rows changed since than autovacuum lets pass before it analyzes
    # again (10%), and only where no value is frequent enough to be listed apart from it (its
    # buckets then hold equal shares of all non-NULL rows). A table with children (inheritance
    # or partitions) is read with them, as are its "inherited" statistics.
    histogram=(
        "SELECT string_agg(u.b, ';' ORDER BY u.o) FROM pg_stats s "
        "JOIN pg_namespace n ON n.nspname = s.schemaname "
        "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename "
        "JOIN pg_stat_all_tables t ON t.relid = c.oid "
        "CROSS JOIN LATERAL unnest(s.histogram_bounds::text::text[]) WITH ORDINALITY u(b, o) "
        "WHERE s.schemaname = {schema} AND s.tablename = {table} AND s.attname = {column} "
        "AND s.inherited = c.relhassubclass AND s.most_common_vals IS NULL "
        "AND COALESCE(t.last_analyze, t.last_autoanalyze) IS NOT NULL "
        "AND t.n_mod_since_analyze <= 0.1 * c.reltuples"
    ),
    unique_keys=(
        "SELECT i.indexrelid::regclass::text, a.attname FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indisunique AND i.indpred IS NULL AND n.nspname = {schema} "
        "AND c.relname = {table} ORDER BY 1, 2"
    ),
)

ALIASES = {"dbname": "database", "pass": "password"}

# Drop and rename in one transaction: PostgreSQL's DDL is transactional.
RENAME_SWAP = Swap(
    replace=("DROP TABLE {target}", "ALTER TABLE {stage} RENAME TO {target_name}"),
    create=("ALTER TABLE {stage} RENAME TO {target_name}",),
)

# Run first in each transaction that takes a table's exclusive lock (the swap, a truncate, the
# staging table's drop, a new merge target's primary key): an autovacuum holding the table
# gives way to such a lock only once the waiter has waited ``deadlock_timeout`` (1 s by
# default), and a table loaded in the last minutes often is being vacuumed (inserts start it
# since PostgreSQL 13), as is a filled staging table: the swap waited that second (measured: a
# DROP of a table under autovacuum 1.03 s, 0.06 s with this). Only a superuser may set it; for
# other roles the statement does nothing. PostgreSQL never cancels an autovacuum run to prevent
# wraparound, which is still waited for.
SHORT_AUTOVACUUM_WAIT = ("SELECT set_config('deadlock_timeout', '20ms', true) FROM pg_roles "
                         "WHERE rolname = current_user AND rolsuper")

DIALECT = Dialect(
    name="postgres",
    title="PostgreSQL",
    types={
        "boolean": "BOOLEAN",
        "byte": "SMALLINT",
        "short": "SMALLINT",
        "integer": "INTEGER",
        "long": "BIGINT",
        "float": "REAL",
        "double": "DOUBLE PRECISION",
        "decimal": "NUMERIC({p},{s})",
        "varchar": "VARCHAR({n})",
        "char": "CHAR({n})",
        "binary": "BYTEA",
        "date": "DATE",
        "timestamp": "TIMESTAMPTZ(6)",
        "timestamp_ntz": "TIMESTAMP(6)",
        "time": "TIME(6)",
    },
    text_ladder=((None, "TEXT"),),
    varchar_limit=10_485_760,
    max_precision=1000,
    max_identifier=63,
    identifier_bytes=True,
    array="{element}[]",
    swap=RENAME_SWAP,
    exclusive_lock_prelude=(SHORT_AUTOVACUUM_WAIT,),
    merge=Merge(
        statements=("INSERT INTO {target} ({columns}) SELECT {stage_columns} FROM {stage} "
                    "ON CONFLICT ({keys}) DO UPDATE SET {set}",),
        insert_only=("INSERT INTO {target} ({columns}) SELECT {stage_columns} FROM {stage} "
                     "ON CONFLICT ({keys}) DO NOTHING",),
        set_item="{col} = EXCLUDED.{col}",
        how="INSERT ... ON CONFLICT (key) DO UPDATE in one transaction",
    ),
    # TRUNCATE is transactional in PostgreSQL: readers see the old rows until the commit.
    truncate=("TRUNCATE TABLE {target}",),
    lock=Lock(try_acquire="SELECT pg_try_advisory_lock(hashtextextended({key}, 0))",
              release="SELECT pg_advisory_unlock(hashtextextended({key}, 0))",
              how="PostgreSQL advisory lock"),
)

_TEXT_TYPES = ("uuid", "json", "jsonb", "inet", "cidr", "macaddr", "macaddr8", "interval", "xml",
               "tsvector", "tsquery", "int4range", "int8range", "numrange", "tsrange",
               "tstzrange", "daterange", "point", "line", "lseg", "box", "path", "polygon",
               "circle", "pg_lsn", "txid_snapshot")

# Source types: Spark type, exact or lossy and why. A PostgreSQL target of a PostgreSQL source
# gets the declared type back (uuid stays uuid, numeric stays numeric).
TYPES = TypeMap(
    rules=(
        TypeRule(("int2", "smallserial"), "short"),
        TypeRule(("int4", "serial"), "integer"),
        TypeRule(("int8", "bigserial", "oid"), "long"),
        TypeRule(("float4",), "float", why="NaN and infinities included"),
        TypeRule(("float8",), "double", why="NaN and infinities included"),
        TypeRule(("bool",), "boolean"),
        TypeRule(("numeric",), "string (the number's text)", exact=False, wide=True,
                 why="no declared precision, or more than 38 digits: Spark's decimal holds 38, "
                     "so values are rounded or fail",
                 declared="numeric", same_read_as="string"),
        TypeRule(("numeric",), "decimal(p,s)", declared="numeric({p},{s})"),
        TypeRule(("varchar",), "string", declared="varchar({p})"),
        TypeRule(("bpchar",), "string", why="trailing spaces kept", declared="char({p})"),
        TypeRule(("text", "name", "citext"), "string"),
        TypeRule(("bytea",), "binary"),
        TypeRule(("date",), "date", why="proleptic Gregorian on both sides"),
        TypeRule(("timestamp",), "timestamp_ntz", why="a wall time stays a wall time"),
        TypeRule(("timestamptz",), "timestamp", why="an instant stays an instant"),
        TypeRule(("time", "timetz"), "timestamp_ntz (1970-01-01)", exact=False,
                 why="Spark's JDBC source reads times with millisecond precision",
                 declared="{name}", same_read_as="string"),
        TypeRule(("money",), "string (canonical text)", read_as="string", declared="money",
                 why="Spark has no money type: carried as its text"),
        TypeRule(("bit", "varbit"), "string (the bits)", read_as="string",
                 declared="{name}({p})", why="carried as the bits' text ('101')"),
        TypeRule(_TEXT_TYPES, "string (canonical text)", declared="{name}",
                 why="Spark has no such type: carried as its canonical text"),
        TypeRule(("_int2", "_int4", "_int8", "_float4", "_float8", "_bool", "_text",
                  "_varchar", "_date", "_timestamptz", "_bytea", "_numeric"), "array",
                 why="arrays stay arrays where the target has them"),
    ),
    text_write_properties={"stringtype": "unspecified"},
)

# Python bulk path (dvt_connect.connectors.postgres_native). Rows reach Spark as Arrow batches,
# so no bucket is needed; a `local` bucket serves the `native_path: parquet` variant, which
# stages each partition as a Parquet file.
NATIVE = NativeFacts(
    name="postgres",
    spark_format="dvt_bulk",
    group="",
    artifact="",
    releases={},
    bucket_types=("local",),
    python_extra="postgres",
    python_modules=("adbc_driver_postgresql", "psycopg", "pyarrow"),
    needs_bucket=False,
    driver_module="dvt_connect.connectors.postgres_native.driver",
    docs="https://arrow.apache.org/adbc/current/driver/postgresql.html",
    reader_library=ReaderLibrary(
        distribution="adbc-driver-postgresql",
        version="1.8.0",
        platform="linux-x86_64",
        sha256="ef2fb1f60ef0e4195ddae0b8d52a5dd7f31d2b7d29ca88db1a805736ff5fbd05",
        member="adbc_driver_postgresql/libadbc_driver_postgresql.so",
        # checked 2026-12-05 on the bench table, 1M rows of 8 columns as the tasks select them,
        # one process: 0.24-0.25 s of client CPU through 1.8.0 against 0.76-0.80 s through
        # 1.13.0, whose Linux x86-64 wheel (like 1.9.0-1.12.0's) is compiled without
        # optimisation (a call per byte swap, frame pointers, no inlining); 1.5.0-1.8.0's are
        # optimised. 1.8.0 writes decimals wrongly (1.5 as 15.0), so writes keep the installed
        # package, >= 1.13
        why="the Linux x86-64 wheels of adbc-driver-postgresql 1.9.0 and later are built "
            "without compiler optimisation: 1.8.0's library decodes a COPY stream with about "
            "a third of the CPU (0.25 s against 0.78 s per million rows of the bench table)",
    ),
)

# --verify checksum: the first 32 bits of the MD5 of each value's canonical text
CHECKSUM = Checksum(
    hash="('x' || substr(md5({text}), 1, 8))::bit(32)::bigint",
    text={
        "integer": "CAST({col} AS text)",
        "decimal": "CAST(CAST({col} AS numeric({p}, {s})) AS text)",
        "string": "CAST({col} AS text)",
        "boolean": "CASE WHEN {col} THEN '1' ELSE '0' END",
        "date": "to_char({col}, 'YYYY-MM-DD')",
        # an instant's UTC wall time (a timestamp without zone is read as a UTC instant)
        "timestamp": "to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        "binary": "{col}",
    },
)

POSTGRES = Database(
    name="postgres",
    kind="jdbc",
    url_template="jdbc:postgresql://{host}:{port}/{database}",
    default_port=5432,
    driver_class="org.postgresql.Driver",
    driver_packages=("org.postgresql:postgresql:42.7.4",),
    jdbc_properties={"reWriteBatchedInserts": "true"},
    native=NATIVE,
    catalog=CATALOG,
    required=("host", "user", "database"),
    aliases=ALIASES,
    connection=PostgresConnection,
    errors=ErrorRules(product="PostgreSQL", message_prefixes=(r"(?:ERROR|FATAL): ",)),
    ddl=DIALECT,
    lossy_reads=(LossyRead(
        _TIME,
        "column `{name}` is {type_name}: Spark's JDBC source reads it with millisecond "
        "precision. To keep microseconds, cast it to text in --query."),),
    types=TYPES,
    type_aliases=("postgresql",),
    timestamp_offsets=True,
    checksum=CHECKSUM,
)

DATABASES = (POSTGRES,)
