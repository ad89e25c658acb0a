"""The `dvt` command group and its one error handler."""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import traceback
from typing import Any

import click

from dvt_connect import __version__, interrupts, secrets
from dvt_connect.cli.options import debug_option, state
from dvt_connect.errors import DvtError

# Commands are imported when used, so `dvt init` does not pay for importing PySpark.
COMMANDS = {
    "init": "dvt_connect.cli.init:init",
    "clean": "dvt_connect.cli.clean:clean",
    "debug": "dvt_connect.cli.debug:debug",
    "sync": "dvt_connect.cli.sync:sync",
    "run": "dvt_connect.cli.run:run",
    "server": "dvt_connect.cli.server:server",
    "transfer": "dvt_connect.cli.transfer:transfer",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dvt-connect")
@debug_option
def cli() -> None:
    """dvt-connect: move tables between databases, warehouses and lakes on Spark."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every failure into one message and an exit code."""
    secrets.install_logging_filter()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    secrets.install_logging_filter()
    _quiet_py4j()
    interrupts.install()
    sys.exit(run(argv))


def run(argv: list[str] | None = None, **extra: Any) -> int:
    ctx_state = None
    try:
        with cli.make_context("dvt", list(argv if argv is not None else sys.argv[1:]),
                              **extra) as ctx:
            ctx_state = state(ctx)
            result = cli.invoke(ctx)
            return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except KeyboardInterrupt as exc:
        return _stopped(ctx_state, exc if isinstance(exc, interrupts.Interrupted)
                        else interrupts.Interrupted(signal.SIGINT))
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into messages
        signum = interrupts.received()
        if signum is not None:
            # the error is the stopped work's (a cancelled job, the JVM's connection cut while
            # the signal was handled): what ended the run is the signal
            return _stopped(ctx_state, interrupts.Interrupted(signum))
        if isinstance(exc, DvtError):
            _report(ctx_state, secrets.redact(str(exc)), exc, exc.exit_code)
            return exc.exit_code
        first_line = (str(exc).strip().splitlines() or [""])[0]
        message = f"unexpected {type(exc).__name__}: {first_line}"
        _report(ctx_state, secrets.redact(message) + " (run with --debug for details)", exc, 1)
        return 1


def _stopped(ctx_state: Any, stopped: interrupts.Interrupted) -> int:
    if ctx_state is not None and ctx_state.json:
        click.echo(json.dumps({"ok": False, "error": stopped.message,
                               "exit_code": stopped.exit_code}))
    click.echo(stopped.message, err=True)
    return stopped.exit_code


def _quiet_py4j() -> None:
    """Py4J logs a call cut short by a signal or a lost JVM on the root logger, with its
    traceback ("Exception while sending command."); the CLI reports the failure itself, once.
    ``--debug`` shows the traceback of the error that ends the run."""

    def drop(record: logging.LogRecord) -> bool:
        return f"{os.sep}py4j{os.sep}" not in record.pathname

    for handler in logging.getLogger().handlers:
        handler.addFilter(drop)


def _report(ctx_state: Any, message: str, exc: BaseException, exit_code: int) -> None:
    debug = bool(ctx_state and ctx_state.debug)
    if ctx_state is not None and ctx_state.json:
        # a script reading stdout gets a document on failure too
        click.echo(json.dumps({"ok": False, "error": message, "exit_code": exit_code}))
    if debug:
        sys.stderr.write(secrets.redact("".join(traceback.format_exception(exc))))
    console = ctx_state.console if ctx_state is not None else None
    if console is not None:
        console.error(message)
    else:
        click.secho(f"Error: {message}", fg="red", err=True)
