"""The root cause of a failure, in a user's words, from whatever layer wrapped it.

A failure in a Spark task reaches the driver as a Py4J error or a PySpark exception whose first
line says only that something failed ("An exception was thrown from the Python worker:",
"[TASK_WRITE_FAILED] Task failed while writing rows"); the cause is a later line of the text or a
deeper link of the Java chain. These functions find it; they are pure text, so they are tested
without Spark.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

# The last line of a Python traceback: `OSError: [libpq] ...`, `pymysql.err.X: (1064, "...")`.
_PY_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*(?:Error|Exception|Warning)): "
                           r"(.+)$")
# Lines that announce a cause instead of being one.
_NOISE = re.compile(r"^(?:An exception was thrown from the Python worker|Traceback \(most recent|"
                    r"Job aborted|\[\w+\] )", re.I)
_IGNORED = frozenset({"BrokenPipeError", "ConnectionResetError", "EOFError"})

_REFUSED = re.compile(r"Connection refused", re.I)
# Operating-system causes a user can act on, named the way the OS names them.
OS_CAUSES = (
    (re.compile(r"No space left on device|ENOSPC|Disk quota exceeded", re.I),
     "no space left on device"),
    (re.compile(r"Permission denied|EACCES|AccessDeniedException|Read-only file system", re.I),
     "permission denied"),
    (_REFUSED, "connection refused"),
)


def texts_of(exc: BaseException) -> Iterator[str]:
    """Every text behind ``exc``: Python causes and contexts, and each Java exception's
    ``toString`` down its cause chain (where Spark keeps the task's own error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        for attr in ("java_exception", "_origin"):
            java = getattr(current, attr, None)
            if java is not None and hasattr(java, "getCause"):
                with contextlib.suppress(Exception):  # the JVM may be gone
                    depth = 0
                    while java is not None and depth < 16:
                        yield str(java.toString())
                        java, depth = java.getCause(), depth + 1
                break
        current = current.__cause__ or current.__context__


def worker_exception(texts: list[str]) -> tuple[str, str] | None:
    """``(name, message)`` of the exception a Python worker raised, from its traceback text."""
    for text in texts:
        in_traceback = False
        for line in text.splitlines():
            # at a line's start in PySpark's own text; after a Java class and error class
            # ("...PythonException: [PYTHON_EXCEPTION] An exception was thrown from the Python
            # worker: Traceback ...") in a Java exception's, as a write on s3a reports it
            if "Traceback (most recent call last)" in line:
                in_traceback = True
                continue
            if not in_traceback or line.startswith((" ", "\t")):
                continue
            match = _PY_EXCEPTION.match(line.strip())
            if match and match.group(1) not in _IGNORED:
                return match.group(1), match.group(2).strip()
    return None


def first_meaningful_line(text: str) -> str:
    """The first line that says something: not a banner ending in a colon, not a Spark error
    class that only says a task failed."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    for line in lines:
        if line.startswith((" ", "\t")) or line.endswith(":") or _NOISE.match(line):
            continue  # indented: a traceback's frames, a Java stack's `at` lines
        return line.strip()
    return lines[0].rstrip(":") if lines else ""


def os_cause(texts: list[str]) -> str | None:
    """``no space left on device`` (and the like) when any layer says so, with its line."""
    for text in texts:
        for line in text.splitlines():
            for pattern, name in OS_CAUSES:
                if pattern.search(line):
                    detail = re.sub(r"^\s*(?:[\w$.]+(?:Exception|Error): )+", "", line)
                    detail = detail.strip()[:300]
                    return detail if name in detail.lower() else f"{name}: {detail}"
    return None


def refused(exc: BaseException) -> bool:
    """Whether any layer behind ``exc`` says the connection was refused (nothing listens)."""
    return any(_REFUSED.search(text) for text in texts_of(exc))
