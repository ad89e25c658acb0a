"""What killed runs left behind: staging tables and hidden staging folders.

A run stopped by SIGINT or SIGTERM cleans up after itself; one killed hard (kill -9, the OOM
killer, a lost machine) cannot. Its leftovers are recognisable by our naming: a table
``<target>__dvt_stage_<token>`` or ``<target>__dvt_old_<token>``, a folder
``.<name>__dvt_stage_<token>`` (or ``__dvt_old_``) beside a files target, where the token begins
with the creation time (:func:`~dvt_connect.connectors.jdbc.ddl.side_token`). Only those older
than ``older_than`` are leftovers: a younger one may belong to a run still going. Spark's
temporary folders of local sessions (:mod:`dvt_connect.run_folders`, under DVT_HOME, whatever
outputs are asked for) are leftovers once their process is gone, which their lock tells exactly.
`dvt debug` lists them; only `dvt clean --yes` removes them, never an unrelated run.

Plan, then execute: :func:`find` returns what it found (and what it could not look at);
:func:`remove` drops and deletes exactly that list.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvt_connect.config import Connection, Project
from dvt_connect.connectors.filesystem import HadoopFS, StagingArea, hidden, local_path
from dvt_connect.connectors.jdbc.ddl import SIDE_MARKS, dialect_for, drop_table_sql, token_time
from dvt_connect.errors import DvtError
from dvt_connect.secrets import redact
from dvt_connect.transfer.causes import first_meaningful_line, os_cause, texts_of

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.config.buckets import Bucket

DEFAULT_OLDER_THAN = 24 * 3600.0  # seconds; longer than any run we expect (documented)
STAGING_FOLDER = "staging folder"
SPARK_FOLDER = "Spark temp folder"
SPARK_OUTPUT = "(local Spark)"  # not an output: the run folders under DVT_HOME
FOLDER_DEPTH = 3  # a files output's `schema.table` paths are two levels down at most
_SIDE = re.compile("(?:" + "|".join(re.escape(m) for m in SIDE_MARKS) + r")([0-9a-f]+)$")


@dataclass(frozen=True)
class Leftover:
    output: str
    kind: str  # "staging table", STAGING_FOLDER or SPARK_FOLDER
    name: str  # schema-qualified table, or the folder's path
    created: float | None  # Unix time from the name (None: an older, unstamped name)
    schema: str | None = None
    table: str = ""

    def age(self, now: float) -> float | None:
        return None if self.created is None else max(0.0, now - self.created)

    def describe(self, now: float) -> dict[str, Any]:
        age = self.age(now)
        return {"output": self.output, "kind": self.kind, "name": self.name,
                "age_seconds": None if age is None else round(age)}


@dataclass
class Scan:
    """Leftovers found, and the outputs that could not be looked at (and why)."""

    older_than: float
    now: float = field(default_factory=time.time)
    found: list[Leftover] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"older_than_seconds": self.older_than,
                "leftovers": [item.describe(self.now) for item in self.found],
                "not_scanned": list(self.skipped)}


def parse_age(text: str) -> float:
    """``90s``, ``30m``, ``12h``, ``2d`` (or plain seconds) as seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"`{text}` is not an age (use 90s, 30m, 12h or 2d)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


def side_created(name: str) -> tuple[bool, float | None]:
    """Whether ``name`` is one of our side tables or folders, and when it was made."""
    match = _SIDE.search(name)
    if match is None:
        return False, None
    return True, token_time(match.group(1))


def old_enough(created: float | None, scan: Scan) -> bool:
    # a name without a time predates stamped names: no run of this version owns it
    return created is None or scan.now - created >= scan.older_than


def scan_session(project: Project, scan: Scan,
                 outputs: Iterable[str] | None = None) -> SparkSession | None:
    """A Spark session with the jars `dvt sync` fetched for every database output (its JDBC
    driver) and every files output on a bucket (the bucket's filesystem), and those buckets'
    credentials on its context; an output whose jars are missing is noted in ``scan`` and not
    scanned. None when no output needs one (local folders are read without Spark)."""
    from dvt_connect import spark as spark_mod
    from dvt_connect.jars.manifest import Manifest
    from dvt_connect.jars.plan import connection_needs
    from dvt_connect.paths import jars_dir
    from dvt_connect.transfer.credentials import apply_bucket_credentials, buckets_in_use

    manifest = Manifest.load(jars_dir())
    needs: list[str] = []
    on_buckets: list[Connection] = []
    wanted_outputs = None if outputs is None else set(outputs)
    for name, result in project.connection_results().items():
        if wanted_outputs is not None and name not in wanted_outputs:
            continue
        if isinstance(result, DvtError):
            continue
        if result.is_files:
            wanted = _bucket_needs(project, result)
            what = "its bucket's filesystem jars are"
        elif result.facts.kind == "jdbc":
            wanted, what = connection_needs(result), "its JDBC driver is"
        else:
            continue
        if not wanted:
            continue
        if manifest.missing_for(wanted):
            scan.skipped.append(f"{name}: {what} not synced (run `dvt sync`)")
            continue
        needs += [n for n in wanted if n not in needs]
        if result.is_files:
            on_buckets.append(result)
    if not needs:
        return None
    spec = spark_mod.session_spec(master=project.spark_master,
                                  jars=[str(p) for p in manifest.jars_for(needs)],
                                  conf=project.spark_conf, quick_jit=True)  # lists, drops
    spark = spark_mod.get_session(spec)
    if on_buckets:
        apply_bucket_credentials(spark, buckets_in_use(project, on_buckets, preferred=None))
    return spark


def _bucket_needs(project: Project, connection: Connection) -> list[str]:
    """The jars a files output on a bucket is listed with (none for a local folder)."""
    from dvt_connect.jars.plan import connection_needs

    named = getattr(connection, "bucket", None)
    if named:
        bucket = (project.buckets or {}).get(str(named))
        return [f"bucket:{bucket.type}"] if bucket is not None and bucket.type != "local" else []
    return [n for n in connection_needs(connection) if n.startswith("bucket:")]


def find(project: Project, *, older_than: float = DEFAULT_OLDER_THAN,
         outputs: Iterable[str] | None = None, now: float | None = None,
         ) -> tuple[Scan, SparkSession | None]:
    """Look at every output (or ``outputs``): database outputs over JDBC on a session with
    their synced drivers, files outputs on a local path on disk."""
    scan = Scan(older_than=older_than, now=time.time() if now is None else now)
    outputs = None if outputs is None else list(outputs)
    spark = scan_session(project, scan, outputs)
    noted = {line.split(":", 1)[0] for line in scan.skipped}
    for name in outputs if outputs is not None else project.output_names:
        if name in noted:
            continue
        try:
            connection = project.connection(name)
        except DvtError as exc:
            scan.skipped.append(f"{name}: {exc.message}")
            continue
        try:
            if connection.is_files:
                buckets = project.buckets if getattr(connection, "bucket", None) else {}
                scan.found.extend(_folders(connection, scan, spark, buckets))
            elif connection.facts.kind == "jdbc" and spark is not None:
                scan.found.extend(_tables(spark, connection, scan))
            else:
                scan.skipped.append(f"{name}: no Spark session with its JDBC driver")
        except Exception as exc:  # noqa: BLE001 - one unreachable output never hides the rest
            scan.skipped.append(redact(f"{name}: {_cause(exc)}"))
    scan.found.extend(_spark_folders(scan))
    unique = {(item.kind, item.output if item.kind == "staging table" else "", item.name): item
              for item in reversed(scan.found)}
    scan.found = list(reversed(unique.values()))
    return scan, spark


def _tables(spark: SparkSession, connection: Connection, scan: Scan) -> Iterator[Leftover]:
    from dvt_connect.connectors.jdbc.metadata import table_entries
    from dvt_connect.connectors.jdbc.session import JdbcSession

    facts = connection.facts
    with JdbcSession(spark, connection) as session:
        entries = table_entries(session, None, schema_is_catalog=facts.schema_is_catalog,
                                pattern="%__dvt_%")
    for schema, table in entries:
        ours, created = side_created(table)
        if ours and old_enough(created, scan):
            yield Leftover(connection.name, "staging table",
                           ".".join(p for p in (schema, table) if p), created,
                           schema=schema, table=table)


def _folders(connection: Connection, scan: Scan, spark: SparkSession | None = None,
             buckets: Mapping[str, Bucket] | None = None) -> Iterator[Leftover]:
    """Hidden staging folders below a files output's folder, local (read on disk) or on a
    bucket (listed through Hadoop's FileSystem on the scan's session)."""
    from dvt_connect.connectors.files import files_root

    bucket = getattr(connection, "bucket", None)
    root = files_root(connection,  # type: ignore[arg-type]
                      (buckets or {}).get(str(bucket)) if bucket else None)
    local = local_path(root)
    if local is not None:
        local = local.expanduser().resolve()
        if not local.is_dir():
            return
        entries: Iterator[tuple[str, str]] = _walk(_local_children, str(local), FOLDER_DEPTH)
    elif spark is None:
        scan.skipped.append(f"{connection.name}: no Spark session with its bucket's jars")
        return
    else:
        fs = HadoopFS(spark, root)
        if not fs.exists(root):
            return
        entries = _walk(lambda uri: _bucket_children(fs, uri), root, FOLDER_DEPTH)
    for name, path in entries:
        ours, created = side_created(name)
        if ours and name.startswith(".") and old_enough(created, scan):
            yield Leftover(connection.name, STAGING_FOLDER, path, created)


def _spark_folders(scan: Scan) -> Iterator[Leftover]:
    """The run folders of local Spark sessions whose process is gone (its lock is free), or,
    without a lock file to tell by, older than ``older_than``; never a running process's."""
    from dvt_connect import run_folders

    root = run_folders.runs_root()
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        parsed = run_folders.parse(folder.name)
        if parsed is None or not folder.is_dir():
            continue
        alive = run_folders.owner_alive(folder)
        if alive is False or (alive is None and old_enough(parsed[0], scan)):
            yield Leftover(SPARK_OUTPUT, SPARK_FOLDER, str(folder), parsed[0])


def _walk(children: Callable[[str], list[tuple[str, str]]], root: str,
          depth: int) -> Iterator[tuple[str, str]]:
    """(name, path) of the folders below ``root`` (``depth`` levels), not descending into
    hidden ones; ``children`` lists one folder's subfolders."""
    for name, path in children(root):
        yield name, path
        if depth > 1 and not hidden(name):
            yield from _walk(children, path, depth - 1)


def _local_children(folder: str) -> list[tuple[str, str]]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return [(e.name, e.path) for e in entries if e.is_dir(follow_symlinks=False)]


def _bucket_children(fs: HadoopFS, uri: str) -> list[tuple[str, str]]:
    return [(str(s.getPath().getName()), str(s.getPath().toString()))
            for s in fs.fs.listStatus(fs.path(uri)) if s.isDirectory()]


def remove(project: Project, spark: SparkSession | None, leftovers: Iterable[Leftover]
           ) -> list[str]:
    """Drop and delete exactly ``leftovers``; returns the problems (one per failure)."""
    from dvt_connect.connectors.jdbc.session import JdbcSession

    problems: list[str] = []
    for item in leftovers:
        try:
            if item.kind in (STAGING_FOLDER, SPARK_FOLDER):
                # local folders on disk, bucket folders through Hadoop, as a run's own cleanup
                area = StagingArea(spark)
                area.add(item.name)
                problem = area.remove(item.name)
                if problem:
                    raise DvtError(problem)
                continue
            assert spark is not None
            connection = project.connection(item.output)
            facts = connection.facts
            with JdbcSession(spark, connection) as session:
                session.execute(drop_table_sql(facts.quote_qualified(item.schema, item.table),
                                               dialect_for(facts), if_exists=True))
        except Exception as exc:  # noqa: BLE001 - reported per item; the others go on
            problems.append(redact(f"{item.name} on `{item.output}`: {_cause(exc)}"))
    return problems


def _cause(exc: BaseException) -> str:
    texts = list(texts_of(exc))
    return os_cause(texts) or first_meaningful_line(texts[-1]) or type(exc).__name__
