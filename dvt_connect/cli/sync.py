"""`dvt sync`: download the JDBC drivers, native connectors and filesystem jars in use."""

from __future__ import annotations

from pathlib import Path

import click

from dvt_connect.cli.options import config_options, get_console, json_option
from dvt_connect.cli.sync_view import show_sync
from dvt_connect.jars.sync import SyncOptions
from dvt_connect.jars.sync import sync as run_sync


@click.command("sync")
@config_options
@json_option
@click.option("--adapter", "adapters", multiple=True, metavar="TYPE",
              help="Sync this adapter type's driver and connector (repeatable).")
@click.option("--bucket", "buckets", multiple=True, metavar="TYPE",
              help="Sync this bucket type's filesystem jars (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Sync every adapter and bucket type.")
@click.option("--repository", "repositories", multiple=True, metavar="URL",
              help="Search this Maven repository before Maven Central (repeatable).")
@click.option("--mirror", metavar="URL", help="Use this repository instead of Maven Central.")
@click.option("--offline", is_flag=True, help="Use only the local and file:// repositories.")
@click.option("--strict", is_flag=True, help="Refuse jars that publish no checksum.")
@click.option("--dry-run", is_flag=True, help="Print the resolved tree; download nothing.")
@click.option("--prune", is_flag=True, help="Remove jars no longer needed.")
@click.option("--jobs", default=4, show_default=True, help="Parallel downloads.")
@click.option("--jars-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Jars folder (default: $DVT_HOME/jars).")
def sync(all_: bool, **options: object) -> int:
    """Resolve and download the jars your profiles and buckets need into ~/.dvt/jars."""
    console = get_console()
    outcome = run_sync(SyncOptions(all=all_, **options), console)  # type: ignore[arg-type]
    show_sync(outcome, console, as_json=bool(options.get("as_json")))
    return outcome.exit_code
