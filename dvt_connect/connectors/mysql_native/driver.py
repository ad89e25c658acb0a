"""MySQL and MariaDB inside Spark tasks.

- out: ConnectorX streams a query's rows as Arrow record batches (its Rust MySQL client, binary
  protocol). It is the fastest streaming reader here: 1M rows of the bench table in 2.8 s, against
  19.8 s for PyMySQL's unbuffered cursor; mysql-connector-python's C extension would not load
  (it needs OpenSSL 3.2). ConnectorX returns every DECIMAL as ``decimal128(38, 10)``, so the
  dialect selects wider-scale decimals as text (see ``mysql_native.connector``).
- in: ``LOAD DATA LOCAL INFILE`` through PyMySQL, from CSV files of ``chunk_rows`` rows each that
  Arrow's CSV writer renders in a temporary folder (deleted as each chunk is loaded; the next
  chunk is rendered while one loads), all in one transaction per task. With LOCAL the server
  turns bad values into warnings instead of errors, so every chunk's warnings are read, and any
  warning fails the task: nothing is silently truncated.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dvt_connect.connectors.arrow_bulk.columns import BulkRead, CsvLayout, csv_bytes
from dvt_connect.connectors.arrow_bulk.tasks import BulkWrite, TaskError
from dvt_connect.connectors.postgres_native.driver import classify
from dvt_connect.databases.mysql import NATIVE

if TYPE_CHECKING:
    import pyarrow as pa

# Valid values quoted, NULL as the bare word NULL (read as NULL only when unquoted), booleans
# as 0/1, instants as their UTC wall time (our DATETIME(6) columns), binaries as hex for UNHEX.
# Floats print as their shortest text, which is what the JDBC driver sends for a float too
# (3.14159f lands in the DOUBLE column as 3.14159, not 3.141590118408203).
CSV = CsvLayout(null="NULL", booleans_as_int=True, timestamps_as_text=True)

_CX_ERROR = re.compile(r"ERROR (\d+) \((\w{5})\): ([^}]*)")


class LoadWarning(Exception):
    """The server accepted a LOAD DATA chunk with warnings (a value was changed or dropped)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


def connect(params: Mapping[str, Any], password: str | None, **extra: Any) -> Any:
    import pymysql

    return pymysql.connect(host=params.get("host") or "localhost",
                           port=int(params.get("port") or 3306),
                           user=params.get("user"), password=password or "",
                           database=params.get("database") or None, charset="utf8mb4",
                           connect_timeout=20, **extra)


def url(params: Mapping[str, Any], password: str | None) -> str:
    user = quote(str(params.get("user") or ""), safe="")
    secret = quote(password or "", safe="")
    host = params.get("host") or "localhost"
    port = int(params.get("port") or 3306)
    return f"mysql://{user}:{secret}@{host}:{port}/{quote(str(params.get('database') or ''))}"


def read_batches(spec: BulkRead, password: str | None, query: str) -> Iterator[pa.RecordBatch]:
    """The rows of ``query`` as Arrow batches, streamed by ConnectorX."""
    import connectorx as cx

    # ConnectorX's pool retries a failed connection for 30 s before it gives up, and reports
    # the failure without its error code: connect once directly, so a bad password or a down
    # server fails now, with the server's own code.
    connect(spec.params, password).close()
    reader = cx.read_sql(url(spec.params, password), query, return_type="arrow_stream",
                         batch_size=spec.batch_rows)
    yield from reader


def load_batches(spec: BulkWrite, password: str | None,
                 batches: Iterator[pa.RecordBatch]) -> tuple[int, int]:
    """Load ``batches`` into the staging table in chunks of about ``spec.chunk_rows`` rows,
    committed once at the end.

    Rendering and loading overlap: the task writes chunk *k+1*'s CSV while a loader thread runs
    chunk *k*'s ``LOAD DATA`` (the server's insert is the slow part, about 2.7 s per million
    rows of the bench table, against 0.5 s to render them), so the server is never idle waiting
    for CSV. At most two chunk files exist at a time, and no batch is held once rendered."""
    from concurrent.futures import Future, ThreadPoolExecutor

    folder = tempfile.mkdtemp(prefix="dvt-load-")
    rows = sent = 0
    conn = connect(spec.params, password, local_infile=True, autocommit=False)
    try:
        with conn.cursor() as cur, ThreadPoolExecutor(1, "dvt-load") as loader:
            cur.execute("SET time_zone = '+00:00'")
            loading: Future[None] | None = None
            for path, chunk_rows, size, binary in _csv_chunks(batches, folder, spec.chunk_rows):
                if loading is not None:
                    loading.result()  # the previous chunk's error, if any, fails the task here
                loading = loader.submit(_load_file, cur, spec, path, binary)
                rows += chunk_rows
                sent += size
            if loading is not None:
                loading.result()
        conn.commit()
    finally:
        conn.close()  # an uncommitted transaction is rolled back by the server
        shutil.rmtree(folder, ignore_errors=True)
    return rows, sent


def _csv_chunks(batches: Iterator[pa.RecordBatch], folder: str, chunk_rows: int,
                ) -> Iterator[tuple[str, int, int, set[str]]]:
    """Render ``batches`` into CSV files of about ``chunk_rows`` rows (the first of about
    ``FIRST_CHUNK_ROWS``), two names in turn; yields (path, rows, bytes, binary columns) as each
    file is complete."""
    out = None
    count = rows = size = 0
    path = ""
    binary: set[str] = set()
    try:
        for batch in batches:
            if not batch.num_rows:
                continue
            if out is None:
                path = os.path.join(folder, f"chunk-{count % 2}.csv")
                out = open(path, "wb")  # noqa: SIM115 - closed when the chunk is full
                count += 1
                rows = size = 0
                binary = _binary_columns(batch.schema)
            data = csv_bytes(batch, CSV)
            out.write(data)
            rows += batch.num_rows
            size += len(data)
            if rows >= (chunk_rows if count > 1 else min(chunk_rows, FIRST_CHUNK_ROWS)):
                out.close()
                out = None
                yield path, rows, size, binary
        if out is not None:
            out.close()
            out = None
            yield path, rows, size, binary
    finally:
        if out is not None:
            out.close()


def _binary_columns(schema: pa.Schema) -> set[str]:
    import pyarrow as pa

    return {f.name for f in schema
            if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)}


def _load_file(cur: Any, spec: BulkWrite, path: str, binary: set[str]) -> None:
    """``LOAD DATA`` of one rendered chunk; any warning fails it (nothing silently changed).
    Into a staging table without a primary key the tasks take turns, one chunk at a time."""
    import pymysql

    lock = None if spec.keyed else load_lock(spec)
    try:
        if lock is not None:
            cur.execute("SELECT GET_LOCK(%s, %s)", (lock, LOAD_LOCK_WAIT))
            if (cur.fetchone() or (None,))[0] != 1:
                raise pymysql.err.OperationalError(
                    1205, f"waited {LOAD_LOCK_WAIT} s for the other tasks' LOAD DATA into the "
                          "staging table")
        # on an error the lock is not released here: the task fails and closes its connection,
        # which releases it (a release on a lost connection would hide the error)
        cur.execute(load_sql(spec, path, binary))
        cur.execute("SHOW WARNINGS LIMIT 3")
        problems = [r for r in cur.fetchall() if str(r[0]).lower() in ("warning", "error")]
        if lock is not None:
            cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
            cur.fetchall()
        if problems:
            _, code, message = problems[0][:3]
            raise LoadWarning(int(code), f"LOAD DATA changed a value: {message}")
    finally:
        if os.path.exists(path):
            os.unlink(path)


# Concurrent LOAD DATA into one InnoDB table without a primary key does not load faster:
# measured on MariaDB 10.11, 5.3M rows of the bench table in 14.2 s one statement at a time
# (14.6 CPU-s of the server) against 14.8 s two at a time (27.6 CPU-s, the second core spent
# spinning on the table's last page: the hidden row id puts every insert there). So the tasks
# of such a write take turns (a named lock per staging table, held for one chunk), and the core
# that frees renders the next chunks. With a key (a source's, kept: see the dialect's
# keeps_source_key) tasks that read key ranges insert on different pages and load at once.
LOAD_LOCK_WAIT = 3600
# The first chunk is smaller, so the server starts loading after one batch is rendered instead
# of a whole chunk: measured warm, 1M rows of the bench table Parquet -> MariaDB in two tasks,
# five interleaved pairs, moving 2.61 s mean against 2.67 s with 250,000 rows first.
FIRST_CHUNK_ROWS = 50_000


def load_lock(spec: BulkWrite) -> str:
    """The named lock the tasks loading one staging table take turns on (64 characters at
    most, as MySQL requires)."""
    import hashlib

    key = f"{spec.params.get('host')}:{spec.params.get('port')}/{spec.schema}.{spec.table}"
    return "dvt_load_" + hashlib.sha256(key.encode()).hexdigest()[:40]


def load_sql(spec: BulkWrite, path: str, binary: set[str]) -> str:
    """``LOAD DATA LOCAL INFILE`` for our CSV; binary columns arrive as hex and go through
    ``UNHEX``."""
    def q(name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    table = ".".join(q(p) for p in (spec.schema, spec.table) if p)
    targets = []
    sets = []
    for i, name in enumerate(spec.columns):
        if name in binary:
            targets.append(f"@dvt_b{i}")
            sets.append(f"{q(name)} = UNHEX(@dvt_b{i})")
        else:
            targets.append(q(name))
    literal = "'" + path.replace("\\", "\\\\").replace("'", "''") + "'"
    sql = (f"LOAD DATA LOCAL INFILE {literal} INTO TABLE {table} CHARACTER SET utf8mb4 "
           "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
           f"LINES TERMINATED BY '\\n' ({', '.join(targets)})")
    if sets:
        sql += " SET " + ", ".join(sets)
    return sql


def error_info(exc: BaseException) -> TaskError | None:
    """Vendor code, SQLState and verdict of a PyMySQL, ConnectorX or LOAD DATA error."""
    adapter = NATIVE.name
    if isinstance(exc, LoadWarning):
        return classify(adapter, "22000", exc.code, "LoadWarning", str(exc))
    module = type(exc).__module__.split(".")[0]
    if module == "pymysql":
        args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
        code = int(args[0]) if args and isinstance(args[0], int) else None
        text = str(args[1]) if len(args) > 1 else str(exc)
        return classify(adapter, None, code, type(exc).__name__, text)
    if isinstance(exc, RuntimeError):
        return text_info(str(exc))
    return None


_PYMYSQL_TEXT = re.compile(r"\((\d{4}), [\"'](.*?)[\"']\)\s*$")


def text_info(text: str) -> TaskError | None:
    """The task error in a ConnectorX or PyMySQL message that reached us as text only (the
    traceback of a Python worker); None when the text says no MySQL error."""
    adapter = "mysql"
    match = _CX_ERROR.search(text)
    if match:
        return classify(adapter, match.group(2), int(match.group(1)), "MySqlError",
                        match.group(3).strip())
    match = _PYMYSQL_TEXT.search(text)
    if match:
        return classify(adapter, None, int(match.group(1)), "MySQLError", match.group(2))
    if "Could not connect" in text or "timed out waiting for connection" in text:
        return classify(adapter, "08S01", 2003, "DriverError", text)
    return None
