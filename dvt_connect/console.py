"""Where core code reports. Core modules never print: they call a Console.

``RichConsole`` draws tables and progress for people, ``JsonConsole`` keeps stdout for one JSON
document (messages go to stderr), ``CaptureConsole`` records everything for tests. Every console
passes every string through :func:`dvt_connect.secrets.redact`.
"""

from __future__ import annotations

import json as _json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from dvt_connect.secrets import redact


class Progress(Protocol):
    def advance(self, amount: float = 1) -> None: ...
    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None: ...


class RunDisplay(Protocol):
    """One live display for many concurrent tasks (the streams of `dvt run`)."""

    def start(self, name: str) -> None: ...
    def update(self, name: str, text: str) -> None: ...
    def finish(self, name: str, ok: bool, text: str, rows: int = 0) -> None: ...


class Console(Protocol):
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def error(self, message: str) -> None: ...
    def success(self, message: str) -> None: ...
    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              *, styles: Sequence[str | None] | None = None) -> None: ...
    def json(self, document: Any) -> None: ...
    def progress(self, description: str, total: float | None = None,
                 unit: str = "items") -> Any: ...
    def run_progress(self, title: str, total: int) -> Any: ...


def human_size(n: int | None) -> str:
    """A byte count as people read it, in binary units (KiB, MiB, GiB); ``None`` is not measured."""
    if n is None:
        return "not measured"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return redact(str(value))


def redact_document(document: Any) -> Any:
    """Redact every string inside a JSON-able document."""
    if isinstance(document, str):
        return redact(document)
    if isinstance(document, dict):
        return {k: redact_document(v) for k, v in document.items()}
    if isinstance(document, (list, tuple)):
        return [redact_document(v) for v in document]
    return document


class _NullProgress:
    def advance(self, amount: float = 1) -> None:
        pass

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        pass


class RichConsole:
    """Tables and progress bars for a person at a terminal (plain text when piped)."""

    def __init__(self, *, stderr: bool = False, no_color: bool = False) -> None:
        from rich.console import Console as _Rich

        self._out = _Rich(stderr=stderr, highlight=False, no_color=no_color, soft_wrap=False)
        self._err = _Rich(stderr=True, highlight=False, no_color=no_color)

    def _print(self, console: Any, text: str, style: str | None = None) -> None:
        from rich.text import Text

        # never hard-wrapped: a message stays one line in a log or a pipe
        console.print(Text(redact(text), style=style or ""), soft_wrap=True)

    def info(self, message: str) -> None:
        self._print(self._out, message)

    def success(self, message: str) -> None:
        self._print(self._out, message, "green")

    def warn(self, message: str) -> None:
        self._print(self._err, f"Warning: {message}", "yellow")

    def error(self, message: str) -> None:
        self._print(self._err, f"Error: {message}", "bold red")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              *, styles: Sequence[str | None] | None = None) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=redact(title), title_justify="left", show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for i, row in enumerate(rows):
            style = styles[i] if styles and i < len(styles) else None
            table.add_row(*(Text(_cell(c)) for c in row), style=style)
        self._out.print(table)

    def json(self, document: Any) -> None:
        sys.stdout.write(_json.dumps(redact_document(document), indent=2, default=str) + "\n")

    @contextmanager
    def progress(self, description: str, total: float | None = None,
                 unit: str = "items") -> Iterator[Progress]:
        if not self._err.is_terminal:
            yield _NullProgress()
            return
        from rich import progress as rp

        columns: list[Any] = [rp.TextColumn("{task.description}"), rp.BarColumn()]
        if unit == "bytes":
            columns += [rp.DownloadColumn(), rp.TransferSpeedColumn()]
        else:
            columns += [rp.MofNCompleteColumn()]
        columns.append(rp.TimeElapsedColumn())
        with rp.Progress(*columns, console=self._err, transient=True) as bar:
            task = bar.add_task(redact(description), total=total)
            yield _RichProgress(bar, task)

    @contextmanager
    def run_progress(self, title: str, total: int) -> Iterator[RunDisplay]:
        """A row per running stream and a total, live on a terminal; plain lines otherwise."""
        state = _RunState(title, total)
        if not self._err.is_terminal:
            yield _PlainRun(state, self.info)
            return
        from rich.live import Live

        display = _LiveRun(state, self.info)
        with Live(console=self._err, get_renderable=display.render, refresh_per_second=4,
                  transient=True):
            yield display


class _RunState:
    """What a run display shows; updated from the streams' threads."""

    def __init__(self, title: str, total: int) -> None:
        import threading

        self.title, self.total = title, total
        self.lock = threading.Lock()
        self.running: dict[str, tuple[str, float]] = {}
        self.done = self.failed = self.rows = 0
        self.started = time.monotonic()

    def start(self, name: str) -> int:
        with self.lock:
            self.running[name] = ("planning", time.monotonic())
            return self.done + len(self.running)

    def update(self, name: str, text: str) -> None:
        with self.lock:
            if name in self.running:
                self.running[name] = (text, self.running[name][1])

    def finish(self, name: str, ok: bool, rows: int) -> int:
        with self.lock:
            self.running.pop(name, None)
            self.done += 1
            self.failed += 0 if ok else 1
            self.rows += rows
            return self.done

    def summary(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"{self.done}/{self.total} streams done{failed}, {self.rows:,} rows, "
                f"{time.monotonic() - self.started:.0f} s")


class _PlainRun:
    """A line per stream start and end, for logs and pipes."""

    def __init__(self, state: _RunState, say: Any) -> None:
        self._state, self._say = state, say

    def start(self, name: str) -> None:
        n = self._state.start(name)
        self._say(f"[{n}/{self._state.total}] START {name}")

    def update(self, name: str, text: str) -> None:
        self._state.update(name, text)

    def finish(self, name: str, ok: bool, text: str, rows: int = 0) -> None:
        n = self._state.finish(name, ok, rows)
        self._say(f"[{n}/{self._state.total}] {'OK' if ok else 'ERROR'} {name}: {text}")


class _LiveRun(_PlainRun):
    def render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        state = self._state
        table = Table(title=redact(state.title), title_justify="left", show_header=False,
                      box=None, padding=(0, 2))
        now = time.monotonic()
        with state.lock:
            running = list(state.running.items())
            summary = state.summary()
        for name, (text, started) in running:
            table.add_row(Text(redact(name)), Text(redact(text)), f"{now - started:.0f} s")
        table.add_row(Text("total", style="bold"), Text(summary, style="bold"), "")
        return table

    def start(self, name: str) -> None:
        self._state.start(name)

    def finish(self, name: str, ok: bool, text: str, rows: int = 0) -> None:
        n = self._state.finish(name, ok, rows)
        if not ok:  # failures stay on the screen above the live rows
            self._say(f"[{n}/{self._state.total}] ERROR {name}: {text}")


class _RichProgress:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def advance(self, amount: float = 1) -> None:
        self._bar.advance(self._task, amount)

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        kwargs: dict[str, Any] = {}
        if completed is not None:
            kwargs["completed"] = completed
        if total is not None:
            kwargs["total"] = total
        if description is not None:
            kwargs["description"] = redact(description)
        self._bar.update(self._task, **kwargs)


class JsonConsole(RichConsole):
    """For scripts: stdout carries exactly one JSON document; messages go to stderr."""

    def __init__(self) -> None:
        super().__init__(stderr=True, no_color=True)

    def info(self, message: str) -> None:
        self._print(self._err, message)

    def success(self, message: str) -> None:
        self._print(self._err, message)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              *, styles: Sequence[str | None] | None = None) -> None:
        pass  # the JSON document carries the same facts


class CaptureConsole:
    """Records what core code reports (tests)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.tables: list[tuple[str, list[str], list[list[str]]]] = []
        self.documents: list[Any] = []
        self.progress_updates: list[tuple[str, float | None, float | None]] = []
        self.run_events: list[tuple[str, str, str]] = []

    def info(self, message: str) -> None:
        self.messages.append(("info", redact(message)))

    def success(self, message: str) -> None:
        self.messages.append(("success", redact(message)))

    def warn(self, message: str) -> None:
        self.messages.append(("warn", redact(message)))

    def error(self, message: str) -> None:
        self.messages.append(("error", redact(message)))

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              *, styles: Sequence[str | None] | None = None) -> None:
        self.tables.append((redact(title), list(columns), [[_cell(c) for c in r] for r in rows]))

    def json(self, document: Any) -> None:
        self.documents.append(redact_document(document))

    @contextmanager
    def progress(self, description: str, total: float | None = None,
                 unit: str = "items") -> Iterator[Progress]:
        console = self

        class _Recorder:
            completed: float = 0

            def advance(self, amount: float = 1) -> None:
                self.completed += amount
                console.progress_updates.append((description, self.completed, total))

            def update(self, *, completed: float | None = None, total: float | None = None,
                       description: str | None = None) -> None:
                if completed is not None:
                    self.completed = completed
                console.progress_updates.append((description or "", self.completed, total))

        yield _Recorder()

    @contextmanager
    def run_progress(self, title: str, total: int) -> Iterator[RunDisplay]:
        console = self

        class _Recorder:
            def start(self, name: str) -> None:
                console.run_events.append(("start", name, ""))

            def update(self, name: str, text: str) -> None:
                console.run_events.append(("update", name, redact(text)))

            def finish(self, name: str, ok: bool, text: str, rows: int = 0) -> None:
                console.run_events.append(("ok" if ok else "error", name, redact(text)))

        yield _Recorder()

    @property
    def text(self) -> str:
        parts = [m for _, m in self.messages]
        for title, columns, rows in self.tables:
            parts.append(title)
            parts.append(" | ".join(columns))
            parts.extend(" | ".join(r) for r in rows)
        parts.extend(_json.dumps(d, default=str) for d in self.documents)
        return "\n".join(parts)

    def warnings(self) -> list[str]:
        return [m for kind, m in self.messages if kind == "warn"]
