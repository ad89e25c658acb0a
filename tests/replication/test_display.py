"""The run display: a row per running stream and a total on a terminal, plain lines otherwise."""

from __future__ import annotations

import io

from rich.console import Console as Rich

from dvt_connect.console import RichConsole, _LiveRun, _PlainRun, _RunState


def test_live_rows_show_running_streams_and_a_total():
    lines: list[str] = []
    state = _RunState("dvt run r.yml", total=3)
    live = _LiveRun(state, lines.append)
    live.start("sales.orders")
    live.start("sales.items")
    live.update("sales.orders", "moving: 3/8 tasks, 120,000 rows")
    live.finish("sales.items", ok=False, text="boom", rows=0)
    out = io.StringIO()
    Rich(file=out, width=200).print(live.render())
    text = out.getvalue()
    assert "sales.orders" in text and "moving: 3/8 tasks, 120,000 rows" in text
    assert "sales.items" not in text  # finished: its row is gone
    assert "1/3 streams done, 1 failed, 0 rows" in text
    assert lines == ["[1/3] ERROR sales.items: boom"]  # failures stay above the live rows


def test_plain_lines_when_not_a_terminal(capsys):
    console = RichConsole()
    with console.run_progress("dvt run r.yml", 2) as display:
        assert isinstance(display, _PlainRun)
        display.start("a")
        display.update("a", "moving")
        display.finish("a", ok=True, text="10 rows in 1.0 s", rows=10)
    out = capsys.readouterr().out.splitlines()
    assert out == ["[1/2] START a", "[1/2] OK a: 10 rows in 1.0 s"]
