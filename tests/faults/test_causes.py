"""The root cause in a wrapped failure's text (pure: no Spark)."""

from __future__ import annotations

from dvt_connect.connectors.mysql_native.driver import text_info as mysql_text
from dvt_connect.connectors.postgres_native.driver import text_info as pg_text
from dvt_connect.transfer.causes import first_meaningful_line, os_cause, worker_exception

WORKER = """An exception was thrown from the Python worker:
Traceback (most recent call last):
  File "/x/pyspark/worker.py", line 1, in main
    raise OSError(...)
OSError: [libpq] Failed to fetch: PQgetCopyData() failed: server closed the connection unexpectedly
"""


def test_the_python_workers_exception_is_found_and_classified_transient() -> None:
    assert worker_exception(["nothing here", WORKER]) == (
        "OSError", "[libpq] Failed to fetch: PQgetCopyData() failed: server closed the "
                   "connection unexpectedly")
    info = pg_text(worker_exception([WORKER])[1])  # type: ignore[index]
    assert info is not None and info.transient and info.sql_state == "08006"


def test_a_sql_error_in_worker_text_is_terminal_with_the_servers_words() -> None:
    info = pg_text('[libpq] Execution error [PGRES_FATAL_ERROR]: ERROR:  invalid input syntax '
                   'for type integer: "abc"')
    assert info is not None and not info.transient
    assert info.message == 'invalid input syntax for type integer: "abc"'
    maria = mysql_text("(1064, \"You have an error in your SQL syntax; check the manual\")")
    assert maria is not None and not maria.transient and maria.vendor_code == 1064


def test_banner_lines_are_skipped_and_os_causes_named() -> None:
    assert first_meaningful_line(WORKER).startswith("OSError: [libpq]")
    assert first_meaningful_line("[TASK_WRITE_FAILED] Task failed while writing rows\n"
                                 "java.io.IOException: No space left on device") == (
        "java.io.IOException: No space left on device")
    assert os_cause(["[TASK_WRITE_FAILED] Task failed while writing rows",
                     "java.io.IOException: No space left on device"]) == "No space left on device"
    assert os_cause(["java.nio.file.AccessDeniedException: /data/lake/x"]) == (
        "permission denied: /data/lake/x")


# A Python worker's failure as the Java side reports it (a files write on s3a: the Py4J error's
# text, the banner and "Traceback" on the Java exception's line)
JAVA_WRAPPED = """An error occurred while calling o87.save.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 2.0 failed \
1 times, most recent failure: Lost task 0.0 in stage 2.0 (TID 2) (host executor driver): \
org.apache.spark.SparkException: [TASK_WRITE_FAILED] Task failed while writing rows to \
s3a://dvt-lake/lake/.t__dvt_stage_1a2b3c4d.  SQLSTATE: 58030
\tat org.apache.spark.sql.errors.QueryExecutionErrors$.taskFailedWhileWritingRowsError(...)
Caused by: org.apache.spark.api.python.PythonException: [PYTHON_EXCEPTION] An exception was \
thrown from the Python worker: Traceback (most recent call last):
  File "/x/pyspark/worker.py", line 1, in main
    return 1 / 0
ZeroDivisionError: division by zero
 SQLSTATE: 38000
\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(...)
"""


def test_a_python_workers_cause_inside_java_text_is_kept() -> None:
    assert worker_exception([JAVA_WRAPPED]) == ("ZeroDivisionError", "division by zero")
