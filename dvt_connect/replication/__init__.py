"""Many tables in one run: a replication file, streams in parallel on one Spark session.

``run_replication(spark, spec)`` is the Python API; ``dvt run FILE`` the command.
"""

from __future__ import annotations

from dvt_connect.replication.results import RunResults, StreamResult, Verification
from dvt_connect.replication.runner import RunOptions, run_replication
from dvt_connect.replication.spec import ReplicationSpec, load_spec, parse_spec

__all__ = ["ReplicationSpec", "RunOptions", "RunResults", "StreamResult", "Verification",
           "load_spec", "parse_spec", "run_replication"]
