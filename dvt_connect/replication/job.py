"""`dvt run` as a job: a replication file and the profile in, the run's results out.

Starts the one Spark session with the jars both outputs need and the FAIR scheduler (so each
stream's pool gets its share), then hands the run to :func:`run_replication`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dvt_connect.config import load_project
from dvt_connect.replication.plan import plan_streams
from dvt_connect.replication.results import RunResults
from dvt_connect.replication.runner import RunOptions, output, run_replication
from dvt_connect.replication.spec import load_spec
from dvt_connect.replication.verify import check_level
from dvt_connect.transfer.job import start_session

if TYPE_CHECKING:
    from dvt_connect.console import Console

SESSION_CONF = {"spark.scheduler.mode": "FAIR"}


def run_file(path: str | Path, options: RunOptions, console: Console, *,
             profile: str | None = None, profiles_dir: str | None = None,
             master: str | None = None, verbose: bool = False) -> RunResults:
    """Validate the file and the outputs it names (before Spark starts), then run it."""
    spec = load_spec(path)
    project = load_project(profiles_dir, profile)
    for warning in project.warnings:
        console.warn(warning)
    source, target = output(project, spec, "source"), output(project, spec, "target")
    if options.verify is not None:
        check_level(str(options.verify), source, target)
    if source.is_files:  # a files source has no catalog: the whole plan is known before Spark
        plan_streams(spec, None, source_name=source.name, target_schema=target.schema,
                     target_is_files=target.is_files, select=options.select,
                     exclude=options.exclude)
    session = start_session(project, source, target, master=master, profile=profile,
                            verbose=verbose, conf=SESSION_CONF)
    for warning in session.warnings:
        console.warn(warning)
    return run_replication(session.spark, spec, project=project, options=options,
                           console=console, jars=session.jars,
                           native_unavailable=session.native_unavailable)
