"""What a database is, as data: the types every module in :mod:`dvt_connect.databases` fills in.

A :class:`Database` says everything the rest of the code needs to know about one database:
how its outputs are configured (its :class:`~.connection.Connection` class, aliases, required and
secret fields), how JDBC reaches it (URL template, driver, Maven coordinates, properties), what
its catalog answers (:class:`CatalogQueries`), which of its errors are worth retrying
(:class:`ErrorRules`), how we create and swap its tables (:class:`Dialect`), how it writes date
and time literals, what Spark's JDBC source reads lossily from it, and its native bulk path
(:class:`NativeFacts`). Config, sync, debug, planning, error handling and writing read these
fields; none of them branches on a database's name.

This module imports nothing of ours but the connection base class (for the default), so every
layer can read the facts without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dvt_connect.databases.connection import Connection


# ---- native (bulk) paths -----------------------------------------------------------------------

@dataclass(frozen=True)
class NamingRule:
    """How a vendor says which Spark a connector build is for (read by
    :mod:`dvt_connect.jars.releases` against the repository's ``maven-metadata.xml``).

    ``spark_in_artifact``: the artifact carries the Spark minor (``spark-{spark}-bigquery``).
    ``version_suffix``: a regular expression whose group 1 is the Spark minor at the end of the
    version (``6.7.0-spark_4.1``). ``unsuffixed``: connector major version -> the Spark minors a
    version without the suffix is built for (spark-snowflake 3.0/3.1: Spark 3.2-3.5).
    """

    spark_in_artifact: bool = False
    version_suffix: str | None = None
    unsuffixed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @staticmethod
    def spark_minors(major: str, installed_minor: str) -> list[str]:
        """Minors of ``major`` to look for, the installed one first, then older ones."""
        top = int(installed_minor.split(".")[1]) if installed_minor.startswith(f"{major}.") \
            else 9
        return [f"{major}.{m}" for m in range(top, -1, -1)]


# the `-spark_<major.minor>` version suffix spark-redshift and spark-snowflake use
SPARK_SUFFIX = r"-spark_(\d+\.\d+)$"


@dataclass(frozen=True)
class ReaderLibrary:
    """A driver library a Python bulk path reads with in place of the installed package's, where
    that package's build is measurably slower (:mod:`dvt_connect.reader_libraries` fetches it).

    ``dvt sync`` downloads the wheel ``distribution==version`` through pip (the user's index and
    certificates), refuses it unless its SHA-256 is ``sha256``, and keeps the one file ``member``
    in the dvt cache (a cluster's job sends it to the executors). Only on ``platform``
    (``sysconfig.get_platform()``), the wheel the hash is for; elsewhere, and wherever the file
    is missing, the installed package reads. ``why`` says, with numbers, what the library saves.
    """

    distribution: str
    version: str
    platform: str
    sha256: str
    member: str
    why: str

    @property
    def name(self) -> str:
        return f"{self.distribution} {self.version}"


@dataclass(frozen=True)
class NativeFacts:
    """A native (bulk-export) Spark connector for a warehouse.

    ``artifact`` may contain ``{scala}`` (Scala binary version) and ``{spark}`` (Spark minor
    version); ``releases`` maps a Spark minor version (``"3.5"``, ``"4.0"``) to the connector
    version published for it. ``extra_packages`` are further top-level coordinates the connector
    needs at run time that its POM does not declare (spark-snowflake's snowflake-jdbc does it).

    A native path written in Python (PostgreSQL, MySQL/MariaDB bulk protocols run inside Spark
    tasks) has no Maven artifact (``group`` empty): it needs the Python modules
    ``python_modules``, installed by ``pip install "dvt-connect[<python_extra>]"``, a bucket
    only when ``needs_bucket``, and does its database work in ``driver_module`` (imported inside
    Spark tasks).
    """

    name: str
    spark_format: str
    group: str
    artifact: str
    releases: Mapping[str, str]
    bucket_types: tuple[str, ...]
    extra_packages: tuple[str, ...] = ()
    docs: str = ""
    # Spark minor -> Scala binary versions its release is published for (absent: every Scala
    # version that Spark offers); where each release fact was checked.
    scala_binaries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    python_extra: str | None = None
    python_modules: tuple[str, ...] = ()
    needs_bucket: bool = True
    driver_module: str | None = None
    # how the repository's versions say which Spark they are built for; None: facts only
    naming: NamingRule | None = None
    # the library a Python path's reads load, where the installed package's build is slower
    reader_library: ReaderLibrary | None = None

    @property
    def is_python(self) -> bool:
        """A native path that runs in Python tasks: nothing for Spark's classpath."""
        return self.python_extra is not None


@dataclass(frozen=True)
class StageFacts:
    """The warehouse's own bulk SQL: unload a query's rows as Parquet into a bucket folder, and
    load a folder of Parquet into a table (the stage-native path, no Spark connector jar).

    Templates take ``{select}`` (the query), ``{select_literal}`` (the query as a string
    literal), ``{uri}`` (the folder, as the warehouse spells it, ending in ``/``), ``{table}``
    (quoted, qualified) and ``{auth}`` (one of the ``auth_*`` clauses, or nothing). Auth
    templates take ``{key_id}``, ``{secret}``, ``{token_clause}`` (``auth_token`` filled with
    ``{token}``, when the bucket has a session token), ``{role}``, ``{integration}``, ``{sas}``;
    secrets are filled in only for the statement sent to the warehouse, masked everywhere else.
    ``schemes`` maps a bucket type to the URI scheme the warehouse reads (``s3a`` is Spark's).
    ``types`` says how each warehouse type arrives in the Parquet it writes: exact or refused.
    ``executor`` names who runs the SQL: ``jdbc`` (the synced driver, through Spark's JVM) or
    ``module:Class`` (a Python client). ``load_job``: the write loads through the executor's
    ``load_parquet`` (BigQuery's load job) instead of a statement; ``load`` then only says, in
    plans and notes, what that job is told.
    """

    unload: str
    load: str
    schemes: Mapping[str, str]
    types: TypeMap
    auth_keys: str | None = None
    auth_token: str | None = None  # appended to auth_keys when the bucket has a session token
    auth_role: str | None = None
    auth_integration: str | None = None
    auth_sas: str | None = None  # an Azure container's SAS token (``{sas}``)
    # the folder in a statement: "{uri}" or, where a wildcard is needed, "{uri}*.parquet"
    files: str = "{uri}"
    executor: str = "jdbc"
    # what a Python executor imports, and the extra that installs it (`dvt debug` checks)
    python_modules: tuple[str, ...] = ()
    python_extra: str = ""
    load_job: bool = False
    sources: tuple[str, ...] = ()

    @property
    def bucket_types(self) -> tuple[str, ...]:
        return tuple(self.schemes)


# ---- catalog -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CatalogQueries:
    """SQL templates read by the JDBC read planner.

    Placeholders ``{schema}`` and ``{table}`` are replaced with *string literals* quoted by the
    dialect (never spliced as raw names). ``row_estimate`` returns one number from catalog
    statistics (no full count); ``primary_key`` and ``indexed_columns`` return column names.
    ``quantiles`` names the quantile SQL the database can run (``percentile_disc``,
    ``window``; see :mod:`dvt_connect.connectors.jdbc.sql`). ``histogram`` (placeholders
    ``{schema}``, ``{table}``, ``{column}``) returns one text: the bounds of the column's
    equal-frequency histogram from the catalog's statistics, ascending and separated by ``;``,
    or NULL where they would mislead (none, gathered before a tenth of the rows or more
    changed, or values frequent enough to be kept outside the histogram); the planner then
    computes quantiles.
    """

    row_estimate: str | None = None
    primary_key: str | None = None
    indexed_columns: str | None = None
    default_schema: str | None = None
    quantiles: str | None = None
    histogram: str | None = None
    # (index name, column name) of every unique index, ordered within each: a merge needs one
    # whose columns are exactly the key. Read by the bulk paths' sessions (JDBC asks the
    # driver's metadata).
    unique_keys: str | None = None


# ---- errors ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ErrorRules:
    """One dialect's retry rules. States are exact SQLStates; classes their first two characters.

    Exact states and vendor codes are looked at before classes, so ``57014`` (query cancelled)
    can be terminal while other ``57`` states are transient. ``code_kinds`` says how a vendor
    code reads (``auth``, ``database``, ``query``: see :mod:`dvt_connect.connectors.jdbc.errors`).
    """

    product: str
    transient_states: frozenset[str] = frozenset()
    terminal_states: frozenset[str] = frozenset()
    transient_codes: frozenset[int] = frozenset()
    terminal_codes: frozenset[int] = frozenset()
    # driver noise before the server's own words, e.g. MariaDB's "(conn=12) "
    message_prefixes: tuple[str, ...] = ()
    code_kinds: Mapping[int, str] = field(default_factory=dict)


# ---- DDL ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Swap:
    """How a staging table replaces the target.

    Statements are templates: ``{target}``/``{stage}``/``{old}`` are qualified and quoted,
    ``{target_name}``/``{old_name}`` the bare quoted names (``RENAME TO`` takes no schema), and
    ``{stage_literal}``/``{target_name_literal}`` string literals (SQL Server's ``sp_rename``).
    ``replace`` runs when the target exists, ``create`` when it does not; both run in one
    transaction when ``transactional``; ``after`` runs once they are committed (a failure there
    leaves only the renamed-away old table behind, which is reported).
    """

    replace: tuple[str, ...]
    create: tuple[str, ...]
    after: tuple[str, ...] = ()
    # Puts the target back when a non-transactional ``replace`` fails after its first step.
    undo: tuple[str, ...] = ()
    transactional: bool = True
    atomic: bool = True
    how: str = "dropped and renamed in one transaction"


@dataclass(frozen=True)
class Merge:
    """How rows of the staging table are upserted into the target by key, in one transaction.

    Templates: ``{target}``/``{stage}`` (qualified, quoted), ``{columns}`` (the target's column
    list), ``{stage_columns}`` (the staging table's, in the same order), ``{keys}`` (the key
    columns), ``{on}`` (``t.k = s.k AND ...``, the target called ``target_ref``), ``{set}``
    (``set_item`` for every non-key column, comma-joined; ``{col}`` is the target column,
    ``{value}`` the staging one) and ``{values}`` (``s.c, ...``). ``insert_only`` replaces
    ``statements`` when every column is a key (nothing to update).
    """

    statements: tuple[str, ...]
    insert_only: tuple[str, ...]
    set_item: str = "{col} = s.{value}"
    target_ref: str = "t"
    how: str = ""
    # The statement updates on a conflict with any unique key, not only the merge key.
    any_unique_key: bool = False


# Others: delete the target rows whose key is staged, insert every staged row (one transaction).
DELETE_INSERT = Merge(
    statements=(
        "DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {stage} s WHERE {on})",
        "INSERT INTO {target} ({columns}) SELECT {stage_columns} FROM {stage}",
    ),
    insert_only=(
        "INSERT INTO {target} ({columns}) SELECT {values} FROM {stage} s "
        "WHERE NOT EXISTS (SELECT 1 FROM {target} WHERE {on})",
    ),
    target_ref="{target}",
    how="DELETE of the staged keys, then INSERT ... SELECT, in one transaction",
)


@dataclass(frozen=True)
class Lock:
    """A named lock two runs into the same target take, so they never interleave.

    ``try_acquire`` returns one row whose one value is true (or 1) when the lock was taken,
    without waiting (the caller polls, bounded); ``release`` gives it back. ``{key}`` is a string
    literal naming the target."""

    try_acquire: str
    release: str
    how: str


@dataclass(frozen=True)
class Dialect:
    """How one database family stores each Spark type, and how it swaps tables."""

    name: str
    title: str
    types: Mapping[str, str]
    # Strings longer than ``varchar_limit`` (or of unknown length) take the first type whose
    # limit (characters; None = unbounded) holds them.
    text_ladder: tuple[tuple[int | None, str], ...]
    varchar_limit: int
    max_precision: int
    max_identifier: int
    swap: Swap
    max_scale: int | None = None
    array: str | None = None
    # Bytes all VARCHAR columns of a row may declare together (MariaDB: 65,535) and bytes per
    # character of the table's character set; past the budget, strings take the text ladder.
    varchar_row_budget: int | None = None
    bytes_per_char: int = 1
    table_options: str = ""
    # Column comment for instants stored as UTC wall time, and the clause template.
    instant_comment: str | None = None
    comment_clause: str = " COMMENT {text}"
    identifier_bytes: bool = False
    drop_if_exists: bool = True
    # The column type for instants holds a wall time (the instant's UTC wall time), not an
    # instant: the writer binds instants so the driver renders that UTC wall time.
    instants_as_utc_wall: bool = False
    # Where columns are NOT NULL unless wrapped (ClickHouse ``Nullable(T)``): the wrapper for
    # nullable columns; None writes ``NOT NULL`` after non-nullable ones instead.
    nullable_type: str | None = None
    warnings: Mapping[str, str] = field(default_factory=dict)
    # FLOAT/DOUBLE columns hold NaN and infinities (MySQL and MariaDB do not).
    holds_nan: bool = True
    # --mode merge (and incremental with a key): the upsert from the staging table.
    merge: Merge = DELETE_INSERT
    # --mode truncate: statements emptying the target, run in one transaction with the insert
    # from the staging table when ``truncate_atomic`` (else the plan says it is not atomic).
    truncate: tuple[str, ...] = ("DELETE FROM {target}",)
    truncate_atomic: bool = True
    # A new target of a keyed merge gets this primary key (added to the filled staging table
    # before it is renamed): ``{stage}``, ``{pk_name}``, ``{keys}``.
    add_primary_key: str = "ALTER TABLE {stage} ADD CONSTRAINT {pk_name} PRIMARY KEY ({keys})"
    # Why an overwritten table is created with the source's primary key (when the source has
    # one of exact-equality columns, see WriteRequest.source_key); None: tables get no key.
    keeps_source_key: str | None = None
    # Two runs into one target take this lock; None: the database has none we use.
    lock: Lock | None = None
    # Statements run first in each transaction that takes a table's exclusive lock (the swap,
    # a truncate, the staging table's drop, a new merge target's primary key).
    exclusive_lock_prelude: tuple[str, ...] = ()


# ---- types -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TypeRule:
    """How one source type travels: what Spark holds it as, what targets get, and whether every
    value survives (``exact``) or not, with why.

    ``names`` are type names as the driver reports them (lower case). ``wide`` rules apply only
    to decimals Spark cannot hold (no declared precision, or more than 38 digits). ``read_as``
    is the Spark type the read asks for (``customSchema``) on every path. When the target is the
    same database, ``declared`` (``{name}``, ``{p}``, ``{s}`` filled in) is the target column's
    type and ``same_read_as`` the Spark type the value travels as (canonical text): the move is
    then exact even where ``exact`` is False.
    """

    names: tuple[str, ...]
    spark: str
    exact: bool = True
    why: str = ""
    wide: bool = False
    read_as: str | None = None
    declared: str | None = None
    same_read_as: str | None = None


@dataclass(frozen=True)
class TypeMap:
    """A database's source types: rules looked up by type name, first match wins.

    ``text_write_properties`` are the JDBC properties a write needs when text travels into
    typed columns of the same database (PostgreSQL: ``stringtype=unspecified``, so the server
    parses the text as the column's type).
    """

    rules: tuple[TypeRule, ...] = ()
    text_write_properties: Mapping[str, str] = field(default_factory=dict)

    def rule(self, type_name: str, *, wide: bool = False) -> TypeRule | None:
        name = type_name.lower()
        for rule in self.rules:
            if name in rule.names and (not rule.wide or wide):
                return rule
        return None


# ---- the database ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LossyRead:
    """A column type Spark's JDBC source reads inexactly from this database.

    ``jdbc_type`` is a ``java.sql.Types`` code; ``message`` may use ``{name}`` and ``{type_name}``.
    """

    jdbc_type: int
    message: str


@dataclass(frozen=True)
class Endpoint:
    """Where ``dvt debug`` opens a socket when the output has no host or port of its own."""

    host: str | None = None
    port: int | None = None


def _default_connection() -> type[Connection]:
    from dvt_connect.databases.connection import Connection

    return Connection


@dataclass(frozen=True)
class Checksum:
    """`dvt run --verify checksum`, computed where the data is: ``text`` maps a Spark type class
    (integer, decimal, string, boolean, date, timestamp, binary) to the value's canonical text
    (``{col}``; a decimal also ``{p}`` and ``{s}``), the same text in every database, and
    ``hash`` turns a text into a 32-bit integer (``{text}``). The sum of the hashes of a column
    does not depend on row order. A class missing here is counted, not checksummed."""

    hash: str
    text: Mapping[str, str]


@dataclass(frozen=True)
class Database:
    """Everything about one database (one ``type:`` of profiles.yml)."""

    name: str
    kind: str  # "jdbc" (a database reached over JDBC) or "files" (a lake path)
    url_template: str | None = None
    default_port: int | None = None
    driver_class: str | None = None
    driver_packages: tuple[str, ...] = ()
    driver_note: str | None = None
    bundled_with_spark: bool = False
    quote: str = '"'
    native: NativeFacts | None = None
    # The stage-native path: the warehouse's own unload/load SQL through a bucket.
    stage: StageFacts | None = None
    fetch_size: int = 10_000
    jdbc_properties: Mapping[str, str] = field(default_factory=dict)
    catalog: CatalogQueries = field(default_factory=CatalogQueries)
    required: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    secret_fields: tuple[str, ...] = ()
    # The typed class an output of this type loads into (validation, properties, location).
    connection: type[Connection] = field(default_factory=_default_connection)
    # What a failure means; None: the SQL standard's rules only.
    errors: ErrorRules | None = None
    # How we create and swap tables; None: the generic dialect.
    ddl: Dialect | None = None
    # Date/time literal wrappers by column kind ("date", "timestamp"), where the database does
    # not compare those columns with an ISO string: e.g. ``DATE {}``.
    literals: Mapping[str, str] = field(default_factory=dict)
    lossy_reads: tuple[LossyRead, ...] = ()
    # Wall-time source types (lower case) whose driver's values Spark's timestamp_ntz reader
    # shifts before 1582 (MariaDB's DATETIME 1000-01-01 arrived as 1000-01-06): read as
    # instants (rebased like any java.sql.Timestamp) and turned back into wall times.
    wall_times_via_instants: tuple[str, ...] = ()
    # Each source type: Spark type, target type, exact or lossy and why.
    types: TypeMap = field(default_factory=TypeMap)
    # MySQL-family: a "schema" is a database (the JDBC catalog).
    schema_is_catalog: bool = False
    # The database lives in a local folder (Derby) rather than a file (SQLite, DuckDB).
    is_folder: bool = False
    # For `dvt debug`: a fixed API endpoint (BigQuery), or the port when none is configured.
    endpoint: Endpoint | None = None
    # The driver is not ours to name: outputs must list it under `packages:` (generic `jdbc`).
    driver_from_packages: bool = False
    # Other spellings users write for this type (``postgresql``).
    type_aliases: tuple[str, ...] = ()
    # Timestamp literals carry an explicit UTC offset (``'... +00:00'``), so they compare the
    # same with and without a time zone in the column type whatever the session's zone.
    timestamp_offsets: bool = False
    # `dvt run --verify checksum` in this database; None: not available here.
    checksum: Checksum | None = None

    @property
    def title(self) -> str:
        """The product's own name (``PostgreSQL``, ``MariaDB``)."""
        if self.errors is not None:
            return self.errors.product
        return self.ddl.title if self.ddl is not None else self.name

    def quote_identifier(self, name: str) -> str:
        """Quote one identifier part, doubling any embedded quote character."""
        if self.quote == "[":
            return "[" + name.replace("]", "]]") + "]"
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote

    def quote_qualified(self, *parts: str | None) -> str:
        return ".".join(self.quote_identifier(p) for p in parts if p)

    @staticmethod
    def quote_literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"


# Fields whose values are secrets for every database (dbt's names and ours).
COMMON_SECRET_FIELDS = (
    "password",
    "pass",
    "private_key",
    "private_key_passphrase",
    "token",
    "keyfile_json",
    "refresh_token",
    "client_secret",
    "secret",
    "access_token",
    "aws_secret_access_key",
)
