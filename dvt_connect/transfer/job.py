"""`dvt transfer` as a job: configuration in, a plan or stats out.

Resolves the outputs, finds the jars the transfer needs in the sync manifest (a missing one is
one error naming the `dvt sync` to run), starts the one Spark session with exactly those jars,
sets the credentials of the buckets it uses on the running context, then plans and runs the
transfer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dvt_connect.adapters import NativeFacts
from dvt_connect.config import Connection, Project, load_project
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.errors import ConfigError, DvtError, JarsMissingError, UsageError
from dvt_connect.executors import warm_python_workers
from dvt_connect.paths import jars_dir
from dvt_connect.transfer.credentials import apply_bucket_credentials, buckets_in_use
from dvt_connect.transfer.run import (
    TransferPlan,
    arrow_problem,
    execute_transfer,
    plan_transfer,
)
from dvt_connect.transfer.stats import TransferStats

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.config.buckets import Bucket
    from dvt_connect.console import Console
    from dvt_connect.executors import WorkerStart

@dataclass(frozen=True)
class TransferOptions:
    """The options of `dvt transfer`, as given (None means: not given)."""

    source: str
    table: str | None = None
    query: str | None = None
    target: str | None = None
    target_table: str | None = None
    mode: str = "overwrite"
    where: str | None = None
    columns: tuple[str, ...] = ()
    connector: str = "auto"
    route: str = "auto"
    bucket: str | None = None
    partitions: int | None = None
    partition_column: str | None = None
    fetch_size: int | None = None
    batch_size: int | None = None
    partition_by: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    update_key: str | None = None
    tie_breaker: str | None = None
    lookback: str | None = None
    lock_timeout: float = 300.0
    range: str | None = None
    as_of: str | None = None
    schema_evolution: str | None = None
    master: str | None = None
    dry_run: bool = False
    allow_lossy: tuple[str, ...] = ()
    profile: str | None = None
    profiles_dir: str | None = None


@dataclass(frozen=True)
class JobResult:
    plan: TransferPlan
    stats: TransferStats | None


def _table_format_option(flag: str, value: str | None, connection: Connection) -> str | None:
    """``--as-of`` and ``--schema-evolution`` apply to Delta and Iceberg outputs only."""
    from dvt_connect.databases.files import TABLE_FORMATS

    if value and not (connection.is_files and connection.format in TABLE_FORMATS):
        raise UsageError(f"{flag} applies to Delta and Iceberg outputs (`format: delta` or "
                         f"`format: iceberg`); `{connection.name}` is not one.")
    return value or None


def read_request(options: TransferOptions, source: Connection) -> ReadRequest:
    return ReadRequest(
        table=TableRef.parse(options.table) if options.table else None,
        query=options.query,
        columns=options.columns,
        where=options.where,
        partitions=options.partitions or source.partitions,
        partition_column=options.partition_column or source.partition_column,
        fetch_size=options.fetch_size or source.fetch_size,
        as_of=_table_format_option("--as-of", options.as_of, source),
    )


def write_request(options: TransferOptions, target: Connection) -> WriteRequest:
    if options.target_table:
        table = TableRef.parse(options.target_table)
    elif options.table:
        # same table name, in the target's own schema
        table = TableRef(name=TableRef.parse(options.table).name, schema=target.schema)
    else:
        raise UsageError("--query needs --target-table to name where the rows go.")
    if table.schema is None and target.schema and not target.is_files:
        table = TableRef(name=table.name, schema=target.schema)
    return WriteRequest(
        table=table,
        mode=options.mode,
        batch_size=options.batch_size or target.batch_size,
        partition_by=options.partition_by,
        primary_key=options.primary_key,
        update_key=options.update_key,
        tie_breaker=options.tie_breaker,
        lookback=options.lookback,
        lock_timeout=options.lock_timeout,
        range=options.range,
        schema_evolution=_table_format_option("--schema-evolution", options.schema_evolution,
                                              target),
    )


@dataclass(frozen=True)
class Session:
    """The Spark session a job runs on, the jars it was started with, and why a configured
    native connector cannot run in it."""

    spark: SparkSession
    jars: tuple[str, ...]
    native_unavailable: Callable[[NativeFacts], str | None]
    spark_info: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # the Python workers' start begun with the session (``start_session(warm_workers=True)``
    # on a local master): join it before the move's tasks
    workers: WorkerStart | None = None


def start_session(project: Project, source: Connection, target: Connection, *,
                  master: str | None = None, profile: str | None = None,
                  verbose: bool = False, conf: Mapping[str, str] | None = None,
                  preferred_bucket: str | None = None, quick_jit: bool = False,
                  warm_workers: bool = False) -> Session:
    """Find the jars moving data from ``source`` to ``target`` needs in the sync manifest (a
    missing one is one error naming the `dvt sync` to run) and start the one Spark session with
    them; set the credentials of the buckets the transfer can use on the running context.
    ``conf`` comes before the profile's `spark.conf`; ``quick_jit``: no rows will cross the
    driver's JVM (:func:`dvt_connect.spark.quick_jit_options`); ``warm_workers``: a local
    master's Python workers start, importing what the Arrow route's tasks need, as soon as its
    context runs (:attr:`Session.workers`)."""
    from dvt_connect import spark as spark_mod
    from dvt_connect.databases.files import TABLE_FORMATS, session_conf
    from dvt_connect.doctor import connector_unavailable, spark_install
    from dvt_connect.jars.manifest import Manifest
    from dvt_connect.jars.plan import (
        connection_needs,
        runtime_refusal,
        synced_for_another_minor,
    )

    manifest = Manifest.load(jars_dir())
    installed = spark_install()
    stale: list[str] = []  # runtimes synced under another PySpark
    for connection in (source, target):
        fmt = TABLE_FORMATS.get(str(connection.format)) if connection.is_files else None
        if fmt is not None and not isinstance(installed, DvtError):
            synced = manifest.needs.get(fmt.need_key, ())
            refusal = runtime_refusal(fmt, installed, synced,
                                      refused=" Nothing was read or written.")
            if refusal is not None:
                raise refusal
            if synced_for_another_minor(fmt, installed, synced):
                stale.append(f"{fmt.need_key} (synced for another Spark minor than the "
                             f"installed {installed.spark_minor})")
    for connection in (source, target):
        if connection.facts.driver_from_packages and not connection.packages:
            raise ConfigError(
                f"output `{connection.name}` of type `jdbc` has no `packages:` naming its "
                "driver.", path=connection.source_file, key=f"{connection.name}.packages",
                hint="Add `packages: [group:artifact:version]` and run `dvt sync`.",
            )
    needs = list(dict.fromkeys(connection_needs(source) + connection_needs(target)))
    missing = list(dict.fromkeys([*manifest.missing_for(needs), *stale]))
    if missing:
        adapters = sorted({n.split(":", 1)[1] for n in missing if n.startswith("adapter:")})
        command = "dvt sync" + "".join(f" --adapter {a}" for a in adapters)
        if profile and not adapters:
            command += f" --profile {profile}"
        raise JarsMissingError(missing, command)
    jars = [str(p) for p in manifest.jars_for(needs)]

    buckets = project.buckets
    native = source.facts.native
    if buckets and (native is not None or source.facts.stage or target.facts.stage):
        # a warehouse's stage-native path needs only the bucket's filesystem jars
        optional = ([f"native:{native.name}"] if native is not None else []) + [
            f"bucket:{b.type}" for b in buckets.values()]
        jars += [str(p) for p in manifest.jars_for(optional) if str(p) not in jars]

    # no credential on the JVM's command line: they go to the running context, and only for
    # the buckets this transfer can touch
    # Delta's and Iceberg's SQL extensions are read only when the session starts
    formats = session_conf(str(c.format) for c in (source, target) if c.is_files)
    choice = spark_mod.choose_master(master, project.spark_master,
                                     profile_name=project.profile_name)
    spec = spark_mod.session_spec(master=choice.master, jars=jars,
                                  conf={**formats, **(conf or {}), **project.spark_conf},
                                  verbose=verbose, quick_jit=quick_jit,
                                  # imported once, in the Python workers' daemon, should any
                                  # start (`dvt run`'s streams on the Arrow route too)
                                  worker_modules=arrow_task_modules(source, target),
                                  warm_workers=warm_workers)
    spark = spark_mod.get_session(spec)
    warnings: list[str] = []
    if spark_mod.shares_server(spark) and project.spark_conf:
        refused = spark_mod.apply_connect_conf(spark, project.spark_conf)
        if refused:
            where = "Spark Connect" if spark_mod.is_connect(spark) else "the local server"
            warnings.append(
                f"{where}: the profile's spark.conf " + ", ".join(f"`{k}`" for k in refused)
                + " cannot be applied from a client of a running server (static or JVM "
                "settings, fixed when the server started); set them where the server is started "
                "(its `--conf` or spark-defaults.conf). The other keys were set on this "
                "session.")
    apply_bucket_credentials(spark, buckets_in_use(
        project, (source, target), preferred=preferred_bucket or project.bucket_target))

    def native_unavailable(native: NativeFacts) -> str | None:
        """A Spark-package connector runs only if a release fits this Spark and `dvt sync` put
        its jars in this session (the rule `dvt debug` shows)."""
        return connector_unavailable(native, installed, manifest)

    info = spec.describe(choice.origin, project.spark_conf)
    # the master's kind as it turned out: `local-server` attaches to the server's JVM unless
    # the server predates attaching (then it is reached over Spark Connect)
    info["kind"] = spark_mod.session_kind(spark, spec)
    return Session(spark=spark, jars=tuple(jars), native_unavailable=native_unavailable,
                   spark_info=info, warnings=tuple(warnings),
                   workers=spark_mod.take_worker_start())


def arrow_expected(source: Connection, read: ReadRequest, target: Connection,
                   write: WriteRequest, *, connector: str = "auto", route: str = "auto",
                   buckets: Mapping[str, Bucket] | None = None,
                   master_kind: str = "local") -> bool:
    """Whether the move is expected on the Arrow route, from what is known before the JVM
    starts: the connectors the pure choice picks (without the row estimate, so a source small
    enough for JDBC is missed) asked the route's own session-free question
    (:func:`~dvt_connect.transfer.run.arrow_problem`). A wrong guess costs speed only (the
    driver's JIT, :func:`dvt_connect.spark.quick_jit_options`)."""
    from dvt_connect.connectors.factory import connector_class
    from dvt_connect.connectors.selection import choose_connector

    if route == "rows":
        return False
    try:
        # --connector jdbc means JDBC both ways, as in plan_transfer
        target_type = connector_class(choose_connector(
            target, buckets or {}, mode="jdbc" if connector == "jdbc" else "auto").connector)
        source_type = connector_class(choose_connector(source, buckets or {},
                                                       mode=connector).connector)
    except DvtError:
        return False  # planning says why, once the session runs
    return arrow_problem(source_type, source, read, target_type, target, write,
                         master_kind) is None


def arrow_task_modules(*connections: Connection) -> list[str]:
    """What the Arrow route's tasks import for a move between ``connections``: the task code,
    each database's bulk driver module and its Python packages, pyarrow's Parquet for files."""
    return task_modules([c.facts.native for c in connections],
                        files=any(c.is_files for c in connections))


def task_modules(natives: Iterable[NativeFacts | None], *, files: bool) -> list[str]:
    """The Arrow route's task code, the bulk driver module and Python packages of each of
    ``natives`` that has one, and pyarrow's Parquet when ``files``."""
    modules = ["dvt_connect.connectors.arrow_bulk.direct",
               "dvt_connect.connectors.arrow_bulk.tasks"]
    for native in natives:
        if native is not None and native.driver_module:
            modules += [native.driver_module, *native.python_modules]
    if files:
        modules.append("pyarrow.parquet")
    return list(dict.fromkeys(modules))


def run_job(options: TransferOptions, console: Console, *,
            project: Project | None = None, verbose: bool = False) -> JobResult:
    """Plan (and unless ``dry_run``, run) one transfer from configuration."""
    from dvt_connect.spark import choose_master

    started = time.perf_counter()
    project = project or load_project(options.profiles_dir, options.profile, options.target)
    for warning in project.warnings:
        console.warn(warning)
    source = project.connection(options.source)
    target = project.connection(options.target)
    read = read_request(options, source)
    write = write_request(options, target)

    configured = time.perf_counter()
    quick_jit = options.dry_run or arrow_expected(
        source, read, target, write, connector=options.connector, route=options.route,
        buckets=project.buckets, master_kind=choose_master(
            options.master, project.spark_master, profile_name=project.profile_name).kind)
    # the Arrow route's Python workers start and import while the SparkSession is built and
    # the driver plans: measured PostgreSQL -> Parquet 4.5-4.6 s against 4.8-4.9 s at 1M rows,
    # 6.8 s against 6.8-7.5 s at 5M (planning 0.2 s longer, moving 1 s shorter), begun with
    # the context rather than after the session another 0.25-0.3 s at 1M
    warm = quick_jit and not options.dry_run
    session = start_session(project, source, target, master=options.master,
                            profile=options.profile, verbose=verbose,
                            preferred_bucket=options.bucket, quick_jit=quick_jit,
                            warm_workers=warm)
    spark = session.spark
    for warning in session.warnings:
        console.warn(warning)
    spark_started = time.perf_counter()
    # a session that was running already (or not local): started now, where it can be
    warming = session.workers or (warm_python_workers(spark, arrow_task_modules(source, target))
                                  if warm else None)
    plan, source_connector, target_connector = plan_transfer(
        spark, source, target, read, write, buckets=project.buckets, connector=options.connector,
        preferred_bucket=options.bucket or project.bucket_target, console=console,
        jars=session.jars, native_unavailable=session.native_unavailable,
        allow_lossy=options.allow_lossy, route=options.route,
    )
    plan = replace(plan, spark=dict(session.spark_info),
                   timings={"config": round(configured - started, 3),
                            "spark_start": round(spark_started - configured, 3),
                            **plan.timings})
    planning = time.perf_counter() - started
    if options.dry_run:
        return JobResult(plan=plan, stats=None)
    if warming is not None:
        warming.join(timeout=60)
    stats = execute_transfer(spark, plan, source_connector, target_connector, console=console,
                             planning_seconds=planning)
    return JobResult(plan=plan, stats=stats)
