"""PostgreSQL inside Spark tasks, both ways through binary COPY and the ADBC PostgreSQL driver
(libpq; the COPY stream is parsed and written in C, batch by batch):

- out: ``COPY (<query>) TO STDOUT (FORMAT BINARY)`` streamed as Arrow record batches;
- in: ``COPY <stage> (<columns>) FROM STDIN (FORMAT BINARY)`` from the partition's Arrow
  batches (``adbc_ingest``), one transaction per task;
- PostgreSQL to PostgreSQL: the source's binary COPY stream piped into the target's binary COPY
  (psycopg), with no Arrow in between (:func:`copy_partition`).

Measured for the way in (1M rows of the bench table, one process): binary COPY through ADBC
1.7 s; CSV COPY through psycopg with Arrow's CSV writer 4.7 s, 1.9 s of it rendering the CSV.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dvt_connect.connectors.arrow_bulk.columns import READER_LIBRARY, READER_PLATFORM, BulkRead
from dvt_connect.connectors.arrow_bulk.tasks import BulkWrite, TaskError
from dvt_connect.databases.postgres import NATIVE

if TYPE_CHECKING:
    import pyarrow as pa

DIALECT = NATIVE.name
APPLICATION = "dvt-connect"

# Connection failures reported by libpq before any server message carries a SQLState.
_NO_STATE = (
    (re.compile(r"password authentication failed|no password supplied|"
                r"authentication failed", re.I), "28P01"),
    (re.compile(r'database ".*" does not exist', re.I), "3D000"),
    (re.compile(r"could not translate host name", re.I), "08001"),
    (re.compile(r"Connection refused|could not connect|server closed the connection|"
                r"PQgetCopyData\(\) failed|"
                r"connection to server .* failed|timeout expired|Connection reset|"
                r"terminating connection|SSL SYSCALL error|no connection to the server", re.I),
     "08006"),
)


# Bytes per Arrow batch of a read (ADBC's default is 16 MiB). A task holds a few batches at once
# (the driver's, the conformed copy, the writer's): measured PostgreSQL -> Parquet at 5M rows,
# peak memory of the process tree 870-883 MiB at the default, 769 at 4 MiB, 736-737 at 1 MiB,
# with no loss of speed (7.9-8.3 s against 8.4-8.5 s).
BATCH_BYTES = 1 << 20


def conninfo(params: Mapping[str, Any], password: str | None) -> str:
    """A libpq ``key=value`` string (values quoted as libpq wants)."""
    values = dict(params)
    if password:
        values["password"] = password
    values.setdefault("application_name", APPLICATION)
    return " ".join(f"{k}={_quote(str(v))}" for k, v in values.items() if v not in (None, ""))


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@contextmanager
def _adbc(params: Mapping[str, Any], password: str | None,
          library: str | None = None) -> Iterator[Any]:
    """An ADBC PostgreSQL connection on the driver manager's own objects. Its DB-API module
    imports ``pyarrow.dataset`` and, through it, pandas: 56 MiB and 0.18 s more in every Python
    worker, for nothing a task uses. ``library``: the driver library file to load (a reader
    library, :mod:`dvt_connect.reader_libraries`), else the installed package's."""
    import adbc_driver_manager

    if library:
        database = adbc_driver_manager.AdbcDatabase(driver=library,
                                                    uri=conninfo(params, password))
    else:
        import adbc_driver_postgresql

        database = adbc_driver_postgresql.connect(conninfo(params, password))
    try:
        conn = adbc_driver_manager.AdbcConnection(database)
        try:
            yield conn
        finally:
            conn.close()
    finally:
        database.close()


@contextmanager
def _statement(conn: Any) -> Iterator[Any]:
    import adbc_driver_manager

    stmt = adbc_driver_manager.AdbcStatement(conn)
    try:
        yield stmt
    finally:
        stmt.close()


def read_batches(spec: BulkRead, password: str | None, query: str) -> Iterator[pa.RecordBatch]:
    """The rows of ``query`` as Arrow batches, streamed from binary COPY."""
    import pyarrow as pa

    from dvt_connect.reader_libraries import in_task

    library = in_task(spec.options.get(READER_LIBRARY), spec.options.get(READER_PLATFORM))
    with _adbc(spec.params, password, library) as conn, _statement(conn) as stmt:
        stmt.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)})
        stmt.set_sql_query(query)
        stream, _ = stmt.execute_query()
        reader = pa.RecordBatchReader._import_from_c(stream.address)
        try:
            yield from reader
        finally:
            reader.close()  # the stream goes before its statement and connection


def load_batches(spec: BulkWrite, password: str | None,
                 batches: Iterator[pa.RecordBatch]) -> tuple[int, int]:
    """Stream ``batches`` into the staging table with one binary COPY (ADBC's ingest, which
    matches columns by name), committed once at the end."""
    import adbc_driver_manager
    import pyarrow as pa

    first = next((b for b in batches if b.num_rows), None)
    if first is None:
        return 0, 0
    counted = [0, 0]

    def stream() -> Iterator[pa.RecordBatch]:
        for batch in itertools.chain([first], batches):
            if batch.num_rows:
                counted[0] += batch.num_rows
                counted[1] += batch.nbytes
                yield batch

    reader = pa.RecordBatchReader.from_batches(first.schema, stream())
    options = adbc_driver_manager.StatementOptions
    with _adbc(spec.params, password) as conn:
        conn.set_autocommit(False)
        with _statement(conn) as stmt:
            stmt.set_options(**{options.INGEST_TARGET_TABLE.value: spec.table,
                                options.INGEST_MODE.value:
                                    adbc_driver_manager.INGEST_OPTION_MODE_APPEND})
            if spec.schema:
                stmt.set_options(**{options.INGEST_TARGET_DB_SCHEMA.value: spec.schema})
            handle = adbc_driver_manager.ArrowArrayStreamHandle()
            reader._export_to_c(handle.address)
            stmt.bind_stream(handle)
            stmt.execute_update()
        conn.commit()
    return counted[0], counted[1]


def copy_partition(read: BulkRead, read_password: str | None, index: int,
                   selects: tuple[str, ...], write: BulkWrite,
                   write_password: str | None) -> tuple[int, int]:
    """Pipe partition ``index`` of ``read`` into the staging table of ``write`` as binary COPY,
    server to server through this task, committed once at the end; returns (rows, bytes).

    Binary COPY carries no types: each value is read by the target column's receive function.
    ``selects`` (one SQL expression per column over the partition query's row ``q``, from
    :func:`~dvt_connect.connectors.postgres_native.connector.pg_copy_selects`) make every
    value, on the wire, the one the Arrow route's ingest sends for the column's Arrow type.
    Both sessions speak UTF-8, so text crosses as it is stored.

    The stream is moved with libpq's own calls (``get_copy_data``/``put_copy_data``), rows
    gathered into writes of about 1 MiB: psycopg's ``Copy`` objects cost four times the CPU
    (measured: 2.3 against 0.5 CPU-s for 1.25M rows of the bench table)."""
    import psycopg
    from psycopg import sql

    query = (read.value_queries or read.queries)[index]
    out_sql = (f"COPY (SELECT {', '.join(selects)} FROM ({query}) AS q) "
               "TO STDOUT (FORMAT BINARY)")
    table = (sql.Identifier(write.schema, write.table) if write.schema
             else sql.Identifier(write.table))
    in_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in write.columns))
    source = psycopg.connect(conninfo({**read.params, "client_encoding": "UTF8"},
                                      read_password), autocommit=True)
    try:
        target = psycopg.connect(conninfo({**write.params, "client_encoding": "UTF8"},
                                          write_password))
        try:
            with target.cursor() as cur:  # opens the transaction the COPY runs in
                cur.execute("SELECT 1")
            rows, sent = _pipe(source.pgconn, out_sql.encode(), target.pgconn,
                               in_sql.as_bytes(target))
            target.commit()
        finally:
            target.close()  # an unfinished COPY's transaction is rolled back with it
    finally:
        source.close()
    return rows, sent


_PIPE_WRITE = 1 << 20


def _pipe(source: Any, out_sql: bytes, target: Any, in_sql: bytes) -> tuple[int, int]:
    """Run ``out_sql`` (COPY TO STDOUT) on ``source`` and ``in_sql`` (COPY FROM STDIN) on
    ``target`` (libpq connections) and stream the one into the other."""
    from psycopg import pq

    _started(source, source.exec_(out_sql), pq.ExecStatus.COPY_OUT)
    _started(target, target.exec_(in_sql), pq.ExecStatus.COPY_IN)
    get, put = source.get_copy_data, target.put_copy_data
    sent, buffer = 0, bytearray()
    while True:
        size, data = get(0)
        if size < 0:  # -1: the end of the stream (its result says how it ended); -2: failed
            break
        buffer += data
        if len(buffer) >= _PIPE_WRITE:
            sent += _put(target, put, buffer)
            buffer = bytearray()
    if size == -2:
        _raise(source, None)
    _finished(source, pq.ExecStatus.COMMAND_OK)  # an error in the SELECT ends the stream too
    sent += _put(target, put, buffer)
    if target.put_copy_end() < 0:
        _raise(target, None)
    return _finished(target, pq.ExecStatus.COMMAND_OK), sent


def _put(target: Any, put: Any, buffer: bytearray) -> int:
    if buffer and put(buffer) < 0:
        _raise(target, None)
    return len(buffer)


def _started(conn: Any, result: Any, status: Any) -> None:
    if result is None or result.status != status:
        _raise(conn, result)


def _finished(conn: Any, status: Any) -> int:
    """The rows of the command that just ended on ``conn`` (its result drained)."""
    result = conn.get_result()
    if result is None or result.status != status:
        _raise(conn, result)
    rows = result.command_tuples or 0
    while conn.get_result() is not None:
        pass
    return int(rows)


def _raise(conn: Any, result: Any) -> None:
    """The server's error in ``result`` as psycopg raises it (SQLState and all), or the
    connection's own message when there is no result (a broken connection)."""
    import psycopg
    from psycopg import errors, pq

    if result is not None and result.status == pq.ExecStatus.FATAL_ERROR:
        raise errors.error_from_result(result)
    message = conn.error_message.decode("utf-8", "replace").strip()
    raise psycopg.OperationalError(message or "the COPY stream ended unexpectedly")


def error_info(exc: BaseException) -> TaskError | None:
    """SQLState and verdict of a psycopg or ADBC error (None for anything else)."""
    state: str | None = None
    message = ""
    if _is_psycopg(exc):
        state = getattr(exc, "sqlstate", None)
        diag = getattr(exc, "diag", None)
        message = (getattr(diag, "message_primary", None) if diag is not None else None) or ""
    elif _is_adbc(exc):
        state = getattr(exc, "sqlstate", None)
    elif isinstance(exc, OSError) or type(exc).__module__.startswith("pyarrow"):
        # pyarrow's reader of the COPY stream raises libpq's failure as a plain OSError
        return text_info(str(exc), type(exc).__name__)
    else:
        return None
    text = message or str(exc)
    if not state:
        state = next((s for pattern, s in _NO_STATE if pattern.search(text)), None)
    return classify(DIALECT, state, None, type(exc).__name__, text)


def text_info(text: str, name: str = "libpq") -> TaskError | None:
    """The task error in a libpq message that reached us as text only (pyarrow's reader, or the
    traceback of a Python worker); None when the text is not libpq's."""
    if "[libpq]" not in text and not re.search(r"\b(?:FATAL|ERROR):", text) and not any(
            pattern.search(text) for pattern, _ in _NO_STATE):
        return None
    state = next((s for pattern, s in _NO_STATE if pattern.search(text)), None)
    return classify(DIALECT, state, None, name, text)


def classify(adapter: str, state: str | None, code: int | None, name: str,
             text: str) -> TaskError:
    """The task error for one driver error, judged by the JDBC path's rules."""
    from dvt_connect.connectors.jdbc.errors import (
        ChainLink,
        Verdict,
        classify_link,
        clean_message,
        rules_for,
    )

    rules = rules_for(adapter)
    verdict = classify_link(ChainLink(java_class=name, message=text, sql_state=state,
                                      vendor_code=code, is_sql=True), rules)
    return TaskError(adapter, state, code, verdict is Verdict.TRANSIENT,
                     clean_message(_first_server_line(text), rules))


def _first_server_line(text: str) -> str:
    """libpq's useful words: the part after ``FATAL:``/``ERROR:`` when there is one."""
    for line in text.splitlines():
        match = re.search(r"(?:FATAL|ERROR):\s+(.*)", line)
        if match:
            return match.group(1)
    text = re.sub(r"^(?:\w+: )?(?:\[libpq\] )?(?:Failed to \w+: )?", "", text.strip())
    return re.sub(r"^connection failed: ", "", text)


def _is_psycopg(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] == "psycopg"


def _is_adbc(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0].startswith("adbc_driver")
