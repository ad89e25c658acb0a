"""Reading (and, through :mod:`.writer`, writing) any database Spark reaches over JDBC.

Plan, then execute. :meth:`JDBCConnector.plan_read` looks at the catalog (columns, primary key,
indexes, row estimate) and runs one pushed-down query for the partition column's bounds, plus one
for quantile boundaries where the dialect computes them (none where the catalog's histogram or a
dense key serves; cancelled when it runs too long); the pure planner in
:mod:`dvt_connect.partitioning` turns that into predicates. :meth:`JDBCConnector.load`
builds the lazy DataFrame: one query per predicate, nothing else. The orchestrator runs the
action inside the retry loop, asking :meth:`JDBCConnector.is_transient`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from dvt_connect import secrets
from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.base import (
    BaseConnector,
    ConnectorType,
    Partition,
    ReadPlan,
    ReadRequest,
    TableRef,
    WriteOutcome,
    WriteRequest,
)
from dvt_connect.connectors.jdbc import errors
from dvt_connect.connectors.jdbc.metadata import (
    ColumnInfo,
    describe_columns,
    first_column,
    key_columns,
    leading_index_columns,
    lossy_reads,
    table_names,
)
from dvt_connect.connectors.jdbc.session import (
    JdbcSession,
    jvm_time_zone,
    spark_jdbc_url_and_props,
)
from dvt_connect.connectors.jdbc.sql import bounds_sql, literal_template, quantile_sql
from dvt_connect.connectors.typeplan import SourceType
from dvt_connect.errors import (
    DvtError,
    ServerDriverMissingError,
    SourceError,
    UnreachableError,
    UsageError,
)
from dvt_connect.incremental import Mark
from dvt_connect.partitioning import (
    ColumnKind,
    PartitionConfig,
    Value,
    dense_key,
    histogram_quantiles,
    parse_value,
    partition_count,
    plan_partitions,
    sample_fraction,
    sql_literal,
)
from dvt_connect.retry import RetryConfig, RetryHandler
from dvt_connect.transfer.causes import refused

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructField, StructType

    from dvt_connect.console import Console

T = TypeVar("T")

# Planning talks to the source a few times; a blip there is retried briefly, like the action.
PLANNING_RETRY = RetryConfig(max_attempts=3, base_delay=0.5, max_delay=4.0, max_elapsed=30.0)

# The aliases our own subqueries get: a `--query` read, one partition of a read.
QUERY_ALIAS = "dvt_query"
PART_ALIAS = "dvt_part"


@dataclass(frozen=True)
class JdbcReadPlan(ReadPlan):
    """A ReadPlan plus what :meth:`JDBCConnector.load` needs to execute it."""

    relation: str = ""  # the quoted table, or `(query) dvt_query`, as Spark's `dbtable`
    columns: tuple[str, ...] = ()  # selected columns (stored names); empty means all
    where: str | None = None  # the user's --where, ANDed to every partition's predicate
    # each selected column's declared type, and the Spark type the read asks for where the
    # column plan chose one (``customSchema``)
    source_types: tuple[SourceType, ...] = ()
    read_as: tuple[tuple[str, str], ...] = ()

    def predicates(self) -> list[str | None]:
        """One SQL condition per partition, each the WHERE of exactly one query."""
        return [_and(self.where, p.predicate) for p in self.partitions]

    def describe(self) -> dict[str, Any]:
        doc = super().describe()
        doc["columns"] = list(self.columns)
        doc["where"] = self.where
        return doc


@dataclass(frozen=True)
class _Relation:
    sql: str  # what goes after FROM
    display: str
    key: str | None  # the table as the user named it (estimate cache key); None for a query
    catalog_schema: str | None  # for catalog lookups; None for a query
    catalog_table: str | None
    columns: tuple[ColumnInfo, ...]

    @property
    def is_table(self) -> bool:
        return self.catalog_table is not None


class JDBCConnector(BaseConnector):
    """Any database with a JDBC driver: partitioned reads, retries, staged writes."""

    connector_type = ConnectorType.JDBC
    writes_our_ddl = True

    def __init__(
        self,
        spark: SparkSession,
        connection: Connection,
        *,
        bucket: Bucket | None = None,
        console: Console | None = None,
        partition_config: PartitionConfig | None = None,
        planning_retry: RetryConfig | None = None,
    ) -> None:
        if connection.is_files:
            raise UsageError(f"output `{connection.name}` is a files output, not a database.")
        super().__init__(spark, connection, bucket=bucket, console=console)
        self.partition_config = partition_config or PartitionConfig()
        self.planning_retry = planning_retry or PLANNING_RETRY
        self._estimates: dict[str, int | None] = {}
        # a Connection built in Python (not loaded from profiles.yml) may not be registered yet
        secrets.register(connection.password)

    # ---- errors --------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> errors.DatabaseError | None:
        return errors.classify(exc, adapter_name=self.facts.name, user=self.connection.user,
                               where=self.connection.location())

    def is_transient(self, exc: BaseException) -> bool:
        info = self.classify(exc)
        return info is not None and info.transient

    def describe_error(self, exc: BaseException) -> str | None:
        info = self.classify(exc)
        if info is not None:
            return info.message
        missing = self.server_driver_missing(exc)
        return str(missing) if missing is not None else None

    def server_driver_missing(self, exc: BaseException) -> ServerDriverMissingError | None:
        """On Spark Connect the JDBC source runs in the server's JVM, with the server's jars:
        ``exc`` saying it has no driver for this output is one error naming the driver, its
        Maven coordinates and how to add them (None: not that)."""
        from dvt_connect import spark as spark_mod

        server = spark_mod.connect_server_url(self.spark)
        if server is None:
            return None
        url, props = spark_jdbc_url_and_props(self.connection)
        driver = props.get("driver") or self.facts.driver_class or ""
        if not driver or not errors.missing_driver(exc, driver, url):
            return None
        packages = tuple(getattr(self.connection, "packages", ()) or self.facts.driver_packages)
        return ServerDriverMissingError(server, driver, packages, self.connection.name)

    def read_schema(self, plan: ReadPlan) -> StructType:
        """The read's schema, resolved where the JDBC source runs: on Spark Connect the
        server's first use of the driver, so a driver the server lacks is reported here."""
        try:
            if not isinstance(plan, JdbcReadPlan):
                return super().read_schema(plan)
            # one partition's relation: the union of them all has its schema (every partition
            # is the same query, only its WHERE differs), and each relation Spark resolves is a
            # connection and a `WHERE 1=0` query of its own (8 partitions: about 0.5 s of planning)
            resolved = self._resolved_schema(plan)
            if resolved is not None:
                return resolved
            return self._frame(plan, plan.predicates()[:1]).schema
        except Exception as exc:
            missing = self.server_driver_missing(exc)
            if missing is None:
                raise
            raise missing from exc

    # ---- planning ------------------------------------------------------------------------

    def estimate_rows(self, request: ReadRequest) -> int | None:
        """The catalog's row count for ``--table`` reads (no count; None when unknown). Cached:
        the plan that follows a connector choice does not ask again."""
        table = request.table
        if table is None or not self.facts.catalog.row_estimate:
            return None
        if str(table) not in self._estimates:
            self._planning(lambda session: self._catalog_estimate(session, table))
        return self._estimates.get(str(table))

    def plan_read(self, request: ReadRequest, *, reason: str = "") -> JdbcReadPlan:
        return self._planning(lambda session: self._plan(session, request, reason))

    def _planning(self, work: Callable[[JdbcSession], T]) -> T:
        """Run catalog/planning queries on one connection, retried briefly when transient; a
        database error becomes one clear :class:`SourceError`."""
        def attempt() -> T:
            with JdbcSession(self.spark, self.connection) as session:
                return work(session)

        def warn(attempt_number: int, exc: BaseException, delay: float) -> None:
            if self.console is not None:
                self.console.warn(f"planning the read from `{self.connection.name}` failed "
                                  f"({self.describe_error(exc)}); retrying in {delay:.1f}s")

        def transient(exc: BaseException) -> bool:
            # a refused connection while planning is a wrong host or port, or a server that is
            # down: fail at once with one line, not after a handful of retry warnings
            return not refused(exc) and self.is_transient(exc)

        try:
            result, _ = RetryHandler(self.planning_retry).run(attempt, transient, on_retry=warn)
            return result
        except DvtError:
            raise
        except Exception as exc:
            message = self.describe_error(exc)
            if message is None:
                raise
            raise (UnreachableError if refused(exc) else SourceError)(message) from exc

    def _plan(self, session: JdbcSession, request: ReadRequest, reason: str) -> JdbcReadPlan:
        config = self._config(request)
        relation = self._relation(session, request)
        columns = self._select(relation, request.columns)
        notes: list[str] = []
        # columns read as another type (the column plan's text) are not read lossily
        described = tuple(c for c in relation.columns if c.name not in request.read_as)
        for problem in lossy_reads(described, self.facts, tuple(columns)):
            notes.append(f"warning: {problem}")
            if self.console is not None:
                self.console.warn(problem)
        primary_key = (self._catalog_names(session, relation, primary_key=True)
                       if relation.is_table else [])
        column, key = self._partition_column(session, relation, config, notes, primary_key)
        partitions: tuple[Partition, ...] = (Partition(index=0, predicate=None),)
        if column is not None:
            partitions = self._partitions(session, relation, request.where, column, config,
                                          notes, key=key)
        estimate = self._estimate(session, relation)

        fetch_size = request.fetch_size or self.connection.fetch_size or self.facts.fetch_size
        shown = ", ".join(self.facts.quote_identifier(c) for c in columns) if columns else "*"
        sql = f"SELECT {shown} FROM {relation.sql}" + (
            f" WHERE {request.where}" if request.where else "")
        return JdbcReadPlan(
            connector=self.connector_type,
            reason=reason or "JDBC",
            source=relation.display,
            sql=sql,
            partitions=partitions,
            partition_column=column.name if column is not None and len(partitions) > 1 else None,
            estimated_rows=estimate,
            fetch_size=fetch_size,
            bucket=None,
            options=self._shown_options(),
            notes=tuple(notes),
            relation=relation.sql,
            columns=columns,
            where=request.where,
            source_types=tuple(SourceType(c.name, c.type_name, c.precision, c.scale)
                               for c in relation.columns if not columns or c.name in columns),
            read_as=tuple((name, spark_type) for name, spark_type in request.read_as.items()),
            primary_key=tuple(primary_key) if primary_key and set(primary_key) <= set(
                columns or [c.name for c in relation.columns]) else (),
        )

    def _shown_options(self) -> dict[str, str]:
        url, props = spark_jdbc_url_and_props(self.connection)
        return {"url": secrets.redact_url(url), "driver": props.get("driver", "")}

    def _config(self, request: ReadRequest) -> PartitionConfig:
        """Overrides: the command line, then the output's keys in profiles.yml, then defaults."""
        config = self.partition_config.with_request(request)
        return replace(
            config,
            partitions=config.partitions or self.connection.partitions,
            column=config.column or self.connection.partition_column,
        )

    def _relation(self, session: JdbcSession, request: ReadRequest) -> _Relation:
        if request.query is not None:
            sql = f"({request.query.strip().rstrip(';')}) {QUERY_ALIAS}"
            return _Relation(sql, "query", None, None, None,
                             tuple(describe_columns(session, sql)))
        table = request.table
        assert table is not None
        ref = self._qualified(table)
        try:
            columns = describe_columns(session, ref.sql(self.facts))
        except Exception as exc:
            info = self.classify(exc)
            if info is None or not errors.is_missing_table(info):
                raise
            raise self._missing_table(session, ref, info) from exc
        return self._table_relation(session, table, tuple(columns))

    def _qualified(self, table: TableRef) -> TableRef:
        return TableRef(name=table.name, schema=table.schema or self._default_schema())

    def _table_relation(self, session: JdbcSession, table: TableRef,
                        columns: tuple[ColumnInfo, ...] = ()) -> _Relation:
        ref = self._qualified(table)
        schema = (ref.schema or session.current_schema(schema_is_catalog=self._schema_is_catalog)
                  or self.facts.catalog.default_schema)
        return _Relation(ref.sql(self.facts), str(ref), str(table), schema, table.name, columns)

    @property
    def _schema_is_catalog(self) -> bool:
        # MySQL and MariaDB: a "schema" is a database, which JDBC calls a catalog
        return self.facts.schema_is_catalog

    def _default_schema(self) -> str | None:
        # for MySQL and MariaDB `schema:` is an alias of `database:`, already in the URL
        if self.connection.schema and not self._schema_is_catalog:
            return self.connection.schema
        return None

    def _missing_table(self, session: JdbcSession, ref: TableRef,
                       info: errors.DatabaseError) -> SourceError:
        import difflib

        schema = ref.schema or session.current_schema(schema_is_catalog=self._schema_is_catalog)
        try:
            names = table_names(session, schema, schema_is_catalog=self._schema_is_catalog)
        except Exception:  # noqa: BLE001 - the hint is a courtesy; the error stands without it
            names = []
        close = difflib.get_close_matches(ref.name, names, n=3) or [
            n for n in names if n.lower() == ref.name.lower()]
        place = f"`{schema}`" if schema else "the default schema"
        if close:
            hint: str | None = "Did you mean " + ", ".join(f"`{c}`" for c in close) + "?"
        elif names:
            shown = ", ".join(f"`{n}`" for n in sorted(names)[:10])
            hint = f"Tables in {place}: {shown}" + (" ..." if len(names) > 10 else ".")
        else:
            hint = f"No tables are visible in {place}."
        return SourceError(
            f"table `{ref}` was not found in {self.connection.type} output "
            f"`{self.connection.name}` ({self.connection.location()}): {info.detail} "
            f"({info.codes}).",
            hint=hint,
        )

    def _select(self, relation: _Relation, wanted: Sequence[str]) -> tuple[str, ...]:
        """The stored names of ``--columns`` (matched like the database matches unquoted names:
        exactly, else ignoring case); an unknown column is a usage error naming the valid ones."""
        names = [c.name for c in relation.columns]
        chosen = []
        for name in wanted:
            found = _match(name, names)
            if found is None:
                raise _unknown_column(name, relation, "--columns")
            chosen.append(found)
        return tuple(chosen)

    def _partition_column(self, session: JdbcSession, relation: _Relation,
                          config: PartitionConfig, notes: list[str],
                          key: list[str]) -> tuple[ColumnInfo | None, bool]:
        """The user's column (checked), else a single-column primary key (``key``: the table's
        primary-key columns), else an indexed integer, date or timestamp column; None reads in
        one partition. With it, whether it is the primary key (its values unique)."""
        by_name = {c.name: c for c in relation.columns}
        if config.column:
            name = _match(config.column, list(by_name))
            if name is None:
                raise _unknown_column(config.column, relation, "--partition-column")
            column = by_name[name]
            if column.kind is None:
                raise UsageError(
                    f"cannot partition on `{name}`: it is {column.type_name.lower()}; the "
                    "partition column must be an integer, date or timestamp column.")
            notes.append(f"partition column `{name}` as requested")
            return column, False
        if config.partitions == 1:
            return None, False
        if not relation.is_table:
            notes.append("one partition: name a --partition-column to split a --query read")
            return None, False
        if len(key) == 1 and key[0] in by_name and by_name[key[0]].kind is not None:
            notes.append(f"partition column `{key[0]}`: the primary key")
            return by_name[key[0]], True
        indexed = [by_name[n] for n in dict.fromkeys(
                       self._catalog_names(session, relation, primary_key=False))
                   if n in by_name and by_name[n].kind is not None]
        if indexed:
            order = {ColumnKind.INTEGER: 0, ColumnKind.TIMESTAMP: 1, ColumnKind.DATE: 2}
            best = min(indexed, key=lambda c: (order[c.kind or ColumnKind.INTEGER], c.nullable))
            notes.append(f"partition column `{best.name}`: an indexed {best.type_name} column"
                         + (" (no single-column primary key)" if key else ""))
            return best, False
        if config.partitions:
            raise UsageError(
                f"cannot split `{relation.display}` into {config.partitions} partitions: it has "
                "no single-column integer, date or timestamp primary key or index.",
                hint="Name a column with --partition-column (or `partition_column:` in "
                     "profiles.yml).",
            )
        notes.append("one partition: no single-column integer, date or timestamp primary key "
                     "or index (set --partition-column to split the read)")
        return None, False

    def _catalog_names(self, session: JdbcSession, relation: _Relation, *,
                       primary_key: bool) -> list[str]:
        """Primary-key columns, or the leading column of each index: from the adapter's catalog
        query when the facts have one, else from the driver's ``DatabaseMetaData``."""
        if relation.catalog_table is None:
            return []
        catalog = self.facts.catalog
        template = catalog.primary_key if primary_key else catalog.indexed_columns
        sql = self._catalog_sql(template, relation)
        if sql:
            return [n for n in first_column(session, sql) if n]
        lookup = key_columns if primary_key else leading_index_columns
        return lookup(session, relation.catalog_schema, relation.catalog_table,
                      schema_is_catalog=self._schema_is_catalog)

    def _catalog_sql(self, template: str | None, relation: _Relation,
                     **names: str) -> str | None:
        """A catalog query of the facts for ``relation``'s table, its ``{schema}``, ``{table}``
        and ``names`` as string literals; None for a query or where the facts have none."""
        if not template or relation.catalog_table is None:
            return None
        quote = self.facts.quote_literal
        return template.format(schema=quote(relation.catalog_schema or ""),
                               table=quote(relation.catalog_table),
                               **{key: quote(value) for key, value in names.items()})

    def _estimate_sql(self, relation: _Relation) -> str | None:
        return self._catalog_sql(self.facts.catalog.row_estimate, relation)

    def _catalog_estimate(self, session: JdbcSession, table: TableRef) -> int | None:
        return self._estimate(session, self._table_relation(session, table))

    def _estimate(self, session: JdbcSession, relation: _Relation) -> int | None:
        """The catalog's estimate, queried once per table and connector."""
        if relation.key is None:
            return None
        if relation.key not in self._estimates:
            sql = self._estimate_sql(relation)
            values = first_column(session, sql) if sql else []
            self._estimates[relation.key] = _int(values[0]) if values else None
        return self._estimates[relation.key]

    def _partitions(
        self,
        session: JdbcSession,
        relation: _Relation,
        where: str | None,
        column: ColumnInfo,
        config: PartitionConfig,
        notes: list[str],
        *,
        key: bool = False,
    ) -> tuple[Partition, ...]:
        """Bounds, with the estimate (when not known yet) and the column's histogram (where the
        catalog keeps a current one and the whole table is read) in one query; size; quantiles,
        from the histogram, else none for a dense integer primary key (``key``), else computed;
        plan."""
        kind = column.kind
        assert kind is not None
        column_sql = self.facts.quote_identifier(column.name)
        known = relation.key is None or relation.key in self._estimates
        estimate_sql = None if known else self._estimate_sql(relation)
        histogram_sql = (self._catalog_sql(self.facts.catalog.histogram, relation,
                                           column=column.name)
                         if config.quantiles and where is None else None)
        row = session.query(bounds_sql(column_sql, relation.sql, where,
                                      [sql for sql in (estimate_sql, histogram_sql) if sql]))[0]
        lower, upper = parse_value(kind, row[0]), parse_value(kind, row[1])
        extras = iter(row[2:])
        if not known and relation.key is not None:
            self._estimates[relation.key] = _int(next(extras)) if estimate_sql else None
        histogram = next(extras) if histogram_sql else None
        estimate = self._estimates.get(relation.key) if relation.key else None
        if estimate == 0 and lower is not None:
            # rows exist but the catalog says none: statistics were never gathered
            notes.append("the catalog has no row statistics for this table (run ANALYZE)")
            estimate = None
            if relation.key is not None:
                self._estimates[relation.key] = None
        count, why = partition_count(estimate, self._cores(), config)
        quantiles: list[Value | None] | None = None
        method = self.facts.catalog.quantiles
        splittable = count > 1 and lower != upper
        from_histogram = _histogram_cuts(kind, histogram, count) if splittable else None
        dense = (splittable and key and where is None and config.quantiles
                 and dense_key(kind, lower, upper, estimate, config.dense_key))
        if from_histogram is not None:
            quantiles = list(from_histogram)
            notes.append("quantile boundaries from the catalog's statistics (the column's "
                         "histogram)")
        elif dense:
            notes.append(f"even stride: the primary key is dense (about {estimate:,} rows "
                         f"between {lower} and {upper}; no quantile query)")
        elif splittable and config.quantiles and method:
            if estimate is None:
                notes.append("even stride between the bounds: quantiles need a row estimate")
            else:
                sample = sample_fraction(estimate, config)
                sql = quantile_sql(method, column_sql=column_sql, source_sql=relation.sql,
                                   where=where, count=count, sample=sample,
                                   is_table=relation.is_table)
                if sql is not None:
                    quantiles = self._quantiles(session, sql, kind, config.quantile_seconds)
                    if quantiles is None:
                        notes.append("even stride between the bounds: the quantile query ran "
                                     f"past {config.quantile_seconds} s and was cancelled")
                    else:
                        notes.append("quantile boundaries" + (
                            f" from a {sample:.1%} sample" if sample is not None else ""))
        elif count > 1 and not method:
            notes.append(f"even stride between the bounds: {self.connection.type} cannot "
                         "compute quantiles here")
        template = literal_template(self.facts, kind)
        plan = plan_partitions(
            column_sql=column_sql, kind=kind, lower=lower, upper=upper, count=count,
            nullable=column.nullable, quantiles=quantiles,
            render=lambda v: sql_literal(kind, v, self.facts.quote_literal, template),
        )
        notes.append(f"{len(plan.partitions)} partition(s): {why}")
        notes.extend(plan.notes)
        return plan.partitions

    @staticmethod
    def _quantiles(session: JdbcSession, sql: str, kind: ColumnKind,
                   seconds: int) -> list[Value | None] | None:
        """The quantile query's cut points, or None when it ran past ``seconds`` (the driver
        cancels it then: a sample that reads the whole column of a large table is not worth
        more than that to balance the partitions)."""
        started = time.monotonic()
        try:
            values = first_column(session, sql, timeout=seconds)
        except Exception:
            if time.monotonic() - started < seconds:
                raise
            return None
        return [parse_value(kind, v) for v in values]

    def _cores(self) -> int:
        from dvt_connect.spark import default_parallelism

        return default_parallelism(self.spark)

    def connect_problem(self) -> str | None:
        return None  # rows move in the server's JDBC tasks; our statements in the client JVM

    # ---- execution -----------------------------------------------------------------------

    def load(self, plan: ReadPlan) -> DataFrame:
        """The lazy DataFrame: one query per partition predicate. Spark resolves the schema
        here (``WHERE 1=0`` queries, which read no rows); no data moves until the action.

        Each partition is its own ``format("jdbc")`` relation, and the relations are unioned.
        Spark's ``DataFrameReader.jdbc(..., predicates=...)`` would be one relation, but it
        lower-cases every connection property name on the way to the driver (checked with Spark
        4.3: ``ApplicationName`` arrives as ``applicationname`` and PostgreSQL ignores it, as
        MySQL Connector/J ignores ``usecursorfetch`` and then buffers whole partitions).
        """
        if not isinstance(plan, JdbcReadPlan):
            raise UsageError(f"a {plan.connector.value} plan cannot be loaded over JDBC.")
        return self._frame(plan, plan.predicates())

    def _frame(self, plan: JdbcReadPlan, predicates: list[str | None]) -> DataFrame:
        """:meth:`load` of the partitions whose ``predicates`` are given."""
        from functools import reduce

        from pyspark.sql import DataFrame
        from pyspark.sql import functions as F

        url, props, via_instants = self._source_options(plan)

        def relation(dbtable: str) -> DataFrame:
            return (self.spark.read.format("jdbc")
                    .options(**props).option("url", url).option("dbtable", dbtable).load())

        if predicates == [None]:
            df = relation(plan.relation)
        else:
            df = reduce(DataFrame.union, [relation(_part(plan, p)) for p in predicates])
        if plan.columns:
            df = df.select(*[F.col("`" + c.replace("`", "``") + "`") for c in plan.columns])
        if via_instants:
            df = self._walls_back(df, set(via_instants))
        return df

    def _source_options(self, plan: JdbcReadPlan) -> tuple[str, dict[str, str], list[str]]:
        """The JDBC source's URL and options for ``plan``, and the columns read as instants
        that :meth:`_walls_back` casts back to wall times."""
        url, props = spark_jdbc_url_and_props(self.connection)
        if plan.fetch_size:
            props["fetchsize"] = str(plan.fetch_size)
        # Wall times (PostgreSQL timestamp, MySQL DATETIME, SQL Server datetime2) are read as
        # timestamp_ntz; instants (timestamptz, MySQL TIMESTAMP) stay timestamp.
        props["preferTimestampNTZ"] = "true"
        read_as = dict(plan.read_as)
        via_instants = [c.name for c in plan.source_types
                        if c.type_name.lower() in self.facts.wall_times_via_instants
                        and c.name not in read_as]
        read_as.update((name, "timestamp") for name in via_instants)
        if read_as:
            props["customSchema"] = ", ".join(
                "`" + name.replace("`", "``") + "` " + spark_type
                for name, spark_type in read_as.items())
        return url, props, via_instants

    def _resolved_schema(self, plan: JdbcReadPlan) -> StructType | None:
        """The schema of :meth:`_frame` for the plan's first partition, asked of Spark's JDBC
        source in the driver's JVM (its relation's ``getSchema``: one connection and one
        ``WHERE 1=0`` query, as the DataFrame's) without building the DataFrame. A cold driver's
        first JDBC DataFrame is its data source lookup and its first analysis, which the Arrow
        route (its tasks need no DataFrame) never uses again: measured on the 2-core bench
        machine, 0.8-1.0 s against 0.27 s this way, the same query, on a slow day. Nor does it
        build the session's SQL state for its name resolver
        (:func:`dvt_connect.spark.name_resolver`): 0.6-0.7 s more of a cold 1M-row
        PostgreSQL -> Parquet's planning.

        None where it cannot be asked so (Spark Connect and clients of a shared server have no
        JVM here; a Spark whose JDBC source has no such method) or where asking failed: the
        DataFrame's way then answers, or raises its error as it always has."""
        import json

        from py4j.protocol import Py4JError
        from pyspark.sql.types import StructField, StructType, TimestampNTZType

        from dvt_connect.spark import name_resolver, shares_server

        jvm = getattr(self.spark, "_jvm", None)
        if jvm is None or shares_server(self.spark):
            return None
        url, props, via_instants = self._source_options(plan)
        first = plan.predicates()[0]
        options = jvm.java.util.HashMap()
        for key, value in {**props, "url": url,
                           "dbtable": _part(plan, first) if first else plan.relation}.items():
            options.put(key, value)
        try:
            jdbc = jvm.org.apache.spark.sql.execution.datasources.jdbc
            resolved = jdbc.JDBCRelation.getSchema(
                name_resolver(self.spark),
                jdbc.JDBCOptions(jvm.org.apache.spark.api.python.PythonUtils.toScalaMap(options)))
            schema = StructType.fromJson(json.loads(resolved.json()))
        except Py4JError:
            return None
        by_name = {f.name: f for f in schema.fields}
        wanted = list(plan.columns) or list(by_name)
        if any(name not in by_name for name in wanted):
            return None  # a name only the DataFrame's resolver matches: let it
        walls = set(via_instants)
        # the cast back to wall times keeps the column's nullability and the driver's metadata
        return StructType([
            StructField(f.name, TimestampNTZType(), f.nullable, f.metadata)
            if f.name in walls else f for f in (by_name[name] for name in wanted)])

    def _walls_back(self, df: DataFrame, names: set[str]) -> DataFrame:
        """Columns read as instants (``wall_times_via_instants``) as the wall times they are:
        the driver rendered each in the JVM's zone, so they are cast back in that zone."""
        from pyspark.sql import functions as F

        from dvt_connect.connectors.jdbc.writer import analysed_in

        zone, _ = jvm_time_zone(self.spark)

        def col(field: StructField) -> Column:
            quoted = F.col("`" + field.name.replace("`", "``") + "`")
            if field.name not in names:
                return quoted
            # the driver's metadata (declared type) stays: the bulk paths read it
            return quoted.cast("timestamp_ntz").alias(field.name, metadata=field.metadata)

        return analysed_in(self.spark, zone,
                           lambda: df.select(*[col(f) for f in df.schema.fields]))

    def write_dataframe(self, df: DataFrame, request: WriteRequest) -> WriteOutcome:
        from dvt_connect.connectors.jdbc.writer import write_jdbc

        return write_jdbc(self.spark, self.connection, df, request, console=self.console)

    def high_water_mark(self, request: WriteRequest) -> Mark | None:
        from dvt_connect.connectors.jdbc.writer import JdbcStagingSession
        from dvt_connect.connectors.staging import high_water_mark

        return high_water_mark(self.connection, request,
                               lambda: JdbcStagingSession(self.spark, self.connection))

    def count_nulls(self, request: ReadRequest, column: str) -> int | None:
        """One COUNT on the source (an index on the column serves it)."""
        if request.table is None:
            return None

        def work(session: JdbcSession) -> int:
            relation = self._table_relation(session, request.table)  # type: ignore[arg-type]
            where = _and(request.where, f"{self.facts.quote_identifier(column)} IS NULL")
            rows = session.typed_query(f"SELECT COUNT(*) FROM {relation.sql} WHERE {where}")
            return int(rows[0][0] or 0)

        return self._planning(work)

    def describe_write(self, request: WriteRequest) -> list[str]:
        from dvt_connect.connectors.staging import describe_write

        return describe_write(self.connection, request)


def _part(plan: JdbcReadPlan, predicate: str | None) -> str:
    """One partition's relation: the plan's relation filtered by ``predicate``."""
    return f"(SELECT * FROM {plan.relation} WHERE {predicate or '1=1'}) {PART_ALIAS}"


def _unknown_column(name: str, relation: _Relation, option: str) -> UsageError:
    import difflib

    names = [c.name for c in relation.columns]
    close = difflib.get_close_matches(name, names, n=1)
    return UsageError(
        f"{option}: `{name}` is not a column of `{relation.display}`; valid: "
        + ", ".join(f"`{n}`" for n in names) + ".",
        hint=f"Did you mean `{close[0]}`?" if close else None,
    )


def _and(where: str | None, predicate: str | None) -> str | None:
    if where and predicate:
        return f"({where}) AND ({predicate})"
    return f"({where})" if where else predicate


def _match(name: str, names: Sequence[str]) -> str | None:
    if name in names:
        return name
    folded = [n for n in names if n.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _histogram_cuts(kind: ColumnKind, text: str | None, count: int) -> list[Value] | None:
    """Cut points for ``count`` partitions from a histogram's bounds as the catalog query
    returns them (``;``-separated text); None when there is none or a bound does not read as
    the column's kind (PostgreSQL's ``infinity``, say): the planner computes quantiles then."""
    if not text:
        return None
    try:
        bounds = [parse_value(kind, value) for value in text.split(";")]
    except ValueError:
        return None
    return histogram_quantiles([b for b in bounds if b is not None], count)


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return max(0, int(float(text)))
    except ValueError:
        return None
