"""`dvt init`: create profiles.yml and buckets.yml from the templates."""

from __future__ import annotations

import click

from dvt_connect.cli.options import debug_option, get_console
from dvt_connect.setup_files import init_config


@click.command("init")
@click.option("--profiles-dir", type=click.Path(file_okay=False), envvar="DVT_PROFILES_DIR",
              show_envvar=True, help="Folder to create the files in (default: dbt's lookup, "
              "then $DVT_HOME).")
@click.option("--force", is_flag=True, help="Replace existing files (the old ones are kept "
              "as .bak).")
@click.option("--demo", is_flag=True, help="Also add the `demo` profile and seed its embedded "
              "Derby database (starts Spark).")
@debug_option
def init(profiles_dir: str | None, force: bool, demo: bool) -> None:
    """Create profiles.yml and buckets.yml (mode 600) where they are missing."""
    console = get_console()
    result = init_config(profiles_dir, force=force)
    for action in result.files:
        (console.success if action.changed else console.info)(action.describe())
    if demo:
        from dvt_connect.demo import create_demo

        created = create_demo(result.paths.profiles, console, force=force)
        console.success(f"Demo profile `demo` ready: {created.database} -> {created.lake}.")
    console.info("Next: edit profiles.yml (and buckets.yml for native connectors), then run "
                 "`dvt debug`.")
