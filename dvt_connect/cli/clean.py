"""`dvt clean`: list the staging tables and folders killed runs left; remove them with --yes."""

from __future__ import annotations

import click

from dvt_connect.cli.clean_view import age_text, show_leftovers
from dvt_connect.cli.options import config_options, get_console, json_option
from dvt_connect.config import load_project
from dvt_connect.transfer import leftovers


def _age(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    try:
        return leftovers.parse_age(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


older_than_option = click.option(
    "--older-than", default="24h", show_default=True, callback=_age,
    help="Only staging older than this (90s, 30m, 12h, 2d) is a leftover of a killed run: a "
         "younger one may belong to a run still going. Make it longer than your longest run.")


@click.command("clean")
@config_options
@json_option
@older_than_option
@click.option("--output", "outputs", multiple=True, help="Look only at this output (repeatable).")
@click.option("--yes", "-y", "apply", is_flag=True,
              help="Remove what is listed (without it, nothing is removed: a dry run).")
def clean(profile: str | None, target: str | None, profiles_dir: str | None, as_json: bool,
          older_than: float, outputs: tuple[str, ...], apply: bool) -> int:
    """List staging tables, hidden staging folders and Spark temp folders left by killed runs
    (dry run); --yes removes them."""
    console = get_console()
    project = load_project(profiles_dir, profile, target)
    scan, spark = leftovers.find(project, older_than=older_than, outputs=outputs or None)
    problems = leftovers.remove(project, spark, scan.found) if apply else []
    document = {**scan.describe(), "removed": apply, "problems": problems}
    if as_json:
        console.json(document)
    else:
        show_leftovers(console, document)
        for problem in problems:
            console.warn(f"could not remove {problem}")
        done = len(scan.found) - len(problems)
        console.info(f"removed {done} leftover(s)" if apply else
                     f"dry run: {len(scan.found)} leftover(s) older than {age_text(older_than)}"
                     " kept; `dvt clean --yes` removes them")
    return 1 if problems else 0
