"""Options shared by every command, and the per-invocation state they set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from dvt_connect.console import Console, JsonConsole, RichConsole

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppState:
    debug: bool = False
    json: bool = False
    _console: Console | None = field(default=None, repr=False)

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = JsonConsole() if self.json else RichConsole()
        return self._console


def state(ctx: click.Context | None = None) -> AppState:
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def get_console(ctx: click.Context | None = None) -> Console:
    return state(ctx).console


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        state(ctx).debug = True
    return value


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        state(ctx).json = True
    return value


debug_option = click.option(
    "--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True,
    help="Show tracebacks and Java stack traces on errors.",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, callback=_set_json, is_eager=True,
    help="Print one JSON document on stdout instead of tables.",
)


def config_options(func: F) -> F:
    """dbt's options: --profile, --target, --profiles-dir (plus --debug)."""
    func = click.option("--profiles-dir", type=click.Path(file_okay=False),
                        envvar="DVT_PROFILES_DIR", show_envvar=True,
                        help="Folder holding profiles.yml and buckets.yml.")(func)
    func = click.option("--target", "-t", "target",
                        help="Output to use as the target (default: the profile's `target`).")(
        func
    )
    func = click.option("--profile", envvar="DVT_PROFILE", show_envvar=True,
                        help="Profile in profiles.yml (default: `default`, else the only one).")(
        func
    )
    return debug_option(func)
