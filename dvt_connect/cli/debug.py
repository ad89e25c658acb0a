"""`dvt debug`: check Java, Spark, the config files, the buckets and every output."""

from __future__ import annotations

import contextlib

import click

from dvt_connect import doctor
from dvt_connect.cli.clean import older_than_option
from dvt_connect.cli.debug_view import show_report
from dvt_connect.cli.options import config_options, get_console, json_option
from dvt_connect.config import load_project
from dvt_connect.errors import DvtError
from dvt_connect.transfer import leftovers


@click.command("debug")
@config_options
@json_option
@click.option("--connect/--no-connect", default=True, show_default=True,
              help="Open a socket to each output's server (or look at its path).")
@click.option("--connection", "connection_only", is_flag=True,
              help="Check only the configuration and the connections (as dbt's).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              default=doctor.DEFAULT_TIMEOUT, show_default=True,
              help="Seconds to wait for each live check.")
@older_than_option
def debug(profile: str | None, target: str | None, profiles_dir: str | None, as_json: bool,
          connect: bool, connection_only: bool, timeout: float, older_than: float) -> int:
    """Show what dvt-connect sees and whether it works; exit 0 only when nothing is broken."""
    report = doctor.gather(profiles_dir, profile, target, connect=connect,
                           connection_only=connection_only, timeout=timeout)
    # with an invalid configuration there is nothing to scan with: fix that first
    if connect and not connection_only and report.profile and not report.config_errors:
        # the leftovers of killed runs: listed here, removed only by `dvt clean --yes`
        with contextlib.suppress(DvtError):  # a config error is in the report already
            project = load_project(profiles_dir, profile, target)
            # an output the live check could not reach, or whose embedded database does not
            # exist yet, holds no leftovers: no Spark session is started to look at it
            idle = [c.name for c in report.connections if c.reach is not None
                    and (c.reach.ok is False or c.reach.result.startswith("absent"))]
            names = [n for n in project.output_names if n not in idle]
            report.leftovers = leftovers.find(project, older_than=older_than,
                                              outputs=names)[0].describe()
    show_report(report, get_console(), as_json=as_json)
    return report.exit_code
