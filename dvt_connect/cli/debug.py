"""`dvt debug`: check Java, Spark, the config files, the buckets and every output."""

from __future__ import annotations

import click

from dvt_connect import doctor
from dvt_connect.cli.debug_view import show_report
from dvt_connect.cli.options import config_options, get_console, json_option


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
def debug(profile: str | None, target: str | None, profiles_dir: str | None, as_json: bool,
          connect: bool, connection_only: bool, timeout: float) -> int:
    """Show what dvt-connect sees and whether it works; exit 0 only when nothing is broken."""
    report = doctor.gather(profiles_dir, profile, target, connect=connect,
                           connection_only=connection_only, timeout=timeout)
    show_report(report, get_console(), as_json=as_json)
    return report.exit_code
