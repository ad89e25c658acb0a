"""`dvt run`: move every stream of a replication file, several at once on one Spark session."""

from __future__ import annotations

import click

from dvt_connect.cli.options import debug_option, get_console, json_option, state
from dvt_connect.cli.views import show_run
from dvt_connect.replication.job import run_file
from dvt_connect.replication.runner import RunOptions
from dvt_connect.replication.verify import LEVELS


def _patterns(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


@click.command()
@click.argument("replication_file", type=click.Path(dir_okay=False))
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True,
              help="Streams to run at once.")
@click.option("--select", "-s", multiple=True,
              help="Only streams matching these patterns (repeat, or comma-separate).")
@click.option("--exclude", multiple=True, help="Leave out streams matching these patterns.")
@click.option("--dry-run", is_flag=True, help="Print every stream's plan; move nothing.")
@click.option("--verify", type=click.Choice(LEVELS), is_flag=False, flag_value="counts",
              default=None, help="After the move, read source and target again: `counts` "
              "(the default of a bare --verify) or `checksum` (also a per-column checksum in "
              "each database); a mismatch fails the stream.")
@click.option("--retry-failed", is_flag=True,
              help="Run only the streams that failed in the last run of this file.")
@click.option("--master", help="Spark master: local[N], spark://HOST:PORT, yarn, k8s://URL, "
              "sc://HOST:PORT or local-server (default: $DVT_SPARK_MASTER, else the "
              "profile's spark.master, else local[*]).")
@click.option("--profile", envvar="DVT_PROFILE", show_envvar=True,
              help="Profile in profiles.yml (default: `default`, else the only one).")
@click.option("--profiles-dir", type=click.Path(file_okay=False), envvar="DVT_PROFILES_DIR",
              show_envvar=True, help="Folder holding profiles.yml and buckets.yml.")
@json_option
@debug_option
def run(replication_file: str, threads: int, select: tuple[str, ...],
        exclude: tuple[str, ...], dry_run: bool, verify: str | None, retry_failed: bool,
        master: str | None, profile: str | None, profiles_dir: str | None,
        as_json: bool) -> int:
    """Run the streams of REPLICATION_FILE (exit 1 when any stream failed)."""
    options = RunOptions(threads=threads, select=_patterns(select), exclude=_patterns(exclude),
                         dry_run=dry_run, verify=verify, retry_failed=retry_failed)
    console = get_console()
    results = run_file(replication_file, options, console, profile=profile,
                       profiles_dir=profiles_dir, master=master, verbose=state().debug)
    show_run(console, results, as_json=as_json)
    return 1 if results.failed or results.verify_failed else 0
