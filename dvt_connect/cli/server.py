"""`dvt server start|stop|status`: the warm local Spark Connect server."""

from __future__ import annotations

import time

import click

from dvt_connect import connect_server
from dvt_connect.cli.options import debug_option, get_console, json_option
from dvt_connect.jars.manifest import Manifest
from dvt_connect.paths import jars_dir
from dvt_connect.warm_up import KEEP_WARM


def _describe(state: connect_server.ServerState | None) -> dict[str, object]:
    if state is None:
        return {"running": False}
    return {"running": True, "pid": state.pid, "port": state.port, "url": state.url,
            "uptime_seconds": round(time.time() - state.started, 1), "jars": len(state.jars),
            "python_workers": connect_server.python_workers(state.pid),
            "keep_warm_seconds": state.keep_warm, "log": state.log}


def _show(title: str, state: connect_server.ServerState | None, as_json: bool) -> None:
    console = get_console()
    doc = _describe(state)
    if as_json:
        console.json(doc)
    elif state is None:
        console.info(f"{title}: no local Spark Connect server runs.")
    else:
        console.table(title, ["", ""], [[k, v] for k, v in doc.items() if k != "running"])


@click.group()
def server() -> None:
    """A warm local Spark engine (Spark Connect on loopback) for repeated commands."""


@server.command()
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: a free one).")
@click.option("--keep-warm", type=click.FloatRange(min=0), default=KEEP_WARM, show_default=True,
              metavar="SECONDS",
              help="While idle, start the Python workers again this often (Spark stops them "
                   "after a minute without a task); 0: never.")
@json_option
@debug_option
def start(port: int | None, keep_warm: float, as_json: bool) -> None:
    """Start the server with the synced jars (use it with --master local-server)."""
    jars = [str(p) for p in Manifest.load(jars_dir()).all_jars()]
    _show("Spark Connect server", connect_server.start(jars, port=port, keep_warm=keep_warm),
          as_json)


@server.command()
@json_option
@debug_option
def stop(as_json: bool) -> None:
    """Stop the server this DVT_HOME started."""
    _show("Stopped", connect_server.stop(), as_json)


@server.command()
@json_option
@debug_option
def status(as_json: bool) -> None:
    """Whether the server runs, its PID, port and URL, and its Python worker processes (one
    set, shared by every command's tasks)."""
    _show("Spark Connect server", connect_server.read_state(), as_json)
