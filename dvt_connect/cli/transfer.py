"""`dvt transfer`: move one table from a source output to a target output."""

from __future__ import annotations

import click

from dvt_connect.cli.options import config_options, get_console, json_option, state
from dvt_connect.cli.views import show_plan, show_stats
from dvt_connect.connectors.base import WRITE_MODES
from dvt_connect.connectors.selection import CONNECTOR_MODES
from dvt_connect.transfer.job import TransferOptions, run_job
from dvt_connect.transfer.run import ROUTES


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in value.split(",") if c.strip()) if value else ()


@click.command()
@click.option("--source", "-s", required=True, help="Output to read from.")
@click.option("--table", help="[schema.]table to read.")
@click.option("--query", help="A whole SQL query to read instead of a table.")
@click.option("--target-table", help="[schema.]table (or sub-path for files) to write.")
@click.option("--mode", type=click.Choice(WRITE_MODES), default="overwrite", show_default=True,
              help="overwrite (replace the table), append, truncate (keep the table, replace "
                   "its rows), merge (upsert by --primary-key), incremental (rows past the "
                   "target's MAX(--update-key)), backfill (replace the rows of --range).")
@click.option("--primary-key", help="Comma-separated key column(s) for merge and incremental.")
@click.option("--update-key", help="incremental: the column whose target maximum is the mark.")
@click.option("--tie-breaker", help="merge: when a key repeats, keep the row with the highest "
                                    "value of this column.")
@click.option("--lookback", help="incremental: re-read a window before the mark (2h, 1d, or a "
                                 "number for numeric keys); needs --primary-key.")
@click.option("--range", "range", help="backfill: START..END on --update-key (END excluded), "
                                      "e.g. 2024-01-01..2024-02-01.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=300, show_default=True,
              help="Seconds to wait for another run writing the same target.")
@click.option("--as-of", help="Delta/Iceberg source: the version (Delta) or snapshot id "
                               "(Iceberg), or a timestamp, to read.")
@click.option("--schema-evolution", type=click.Choice(["add"]),
              help="Delta/Iceberg target: add source columns the table lacks (never drops or "
                   "narrows); without it a new column is refused.")
@click.option("--where", help="SQL condition pushed down to the source (yours, used as written).")
@click.option("--columns", help="Comma-separated columns to read (default: all).")
@click.option("--connector", type=click.Choice(CONNECTOR_MODES), default="auto",
              show_default=True, help="Force JDBC or the native bulk path.")
@click.option("--route", type=click.Choice(ROUTES), default="auto", show_default=True,
              help="How rows cross: arrow (each task moves Arrow batches from source to the "
                   "target's staging), rows (through Spark's rows), auto (arrow where both "
                   "ends can).")
@click.option("--bucket", help="Staging bucket from buckets.yml (default: its target).")
@click.option("--partitions", type=click.IntRange(min=1), help="Number of read partitions.")
@click.option("--partition-column", help="Column to split the read on.")
@click.option("--fetch-size", type=click.IntRange(min=1), help="JDBC rows per round trip.")
@click.option("--batch-size", type=click.IntRange(min=1), help="JDBC rows per insert batch.")
@click.option("--partition-by", help="Comma-separated columns to partition file output by.")
@click.option("--master", help="Spark master: local[N], spark://HOST:PORT, yarn, k8s://URL, "
              "sc://HOST:PORT or local-server (default: $DVT_SPARK_MASTER, else the "
              "profile's spark.master, else local[*]).")
@click.option("--allow-lossy", help="Comma-separated columns whose lossy type mapping you "
              "accept (refused otherwise; `--dry-run` shows each column's mapping).")
@click.option("--dry-run", is_flag=True, help="Print the plan; move nothing.")
@json_option
@config_options
def transfer(as_json: bool, profile: str | None, target: str | None, profiles_dir: str | None,
             **opts: str | None) -> None:
    """Move a table (or a query's rows) from --source to --target through Spark."""
    options = TransferOptions(
        target=target, profile=profile, profiles_dir=profiles_dir,
        columns=_split(opts.pop("columns")), partition_by=_split(opts.pop("partition_by")),
        allow_lossy=_split(opts.pop("allow_lossy")),
        primary_key=_split(opts.pop("primary_key")),
        **opts,  # type: ignore[arg-type]
    )
    console = get_console()
    result = run_job(options, console, verbose=state().debug)
    if result.stats is None:
        show_plan(console, result.plan, as_json=as_json)
    else:
        show_stats(console, result.stats, as_json=as_json)
