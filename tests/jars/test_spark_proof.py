"""Proof the synced jars work: a Spark session built from the manifest reads PostgreSQL.

The session runs in a subprocess because `spark.jars` must be set before a JVM starts, and the
test run's shared session must stay as it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dvt_connect.console import CaptureConsole
from dvt_connect.jars.manifest import Manifest
from dvt_connect.jars.sync import SyncOptions, sync

from .conftest import FAST_RETRY, MavenServer
from .test_sync import PG, _pg, _profiles

SCRIPT = """
import json, sys
from pyspark.sql import SparkSession
import os
jars, pg = json.loads(sys.argv[1]), json.loads(os.environ["PROOF_PG"])
spark = (SparkSession.builder.master("local[1]").appName("dvt-sync-proof")
         .config("spark.jars", ",".join(jars)).config("spark.ui.enabled", "false")
         .getOrCreate())
row = (spark.read.format("jdbc")
       .option("url", f"jdbc:postgresql://{pg['host']}:{pg['port']}/{pg['database']}")
       .option("driver", "org.postgresql.Driver")
       .option("user", pg["user"]).option("password", pg["password"])
       .option("query", "SELECT 1 AS one")
       .load().collect()[0])
print("ROW", row["one"])
spark.stop()
"""


@pytest.mark.network
@pytest.mark.spark
@pytest.mark.postgres
def test_synced_driver_reads_from_postgres(
        dvt_env: Path, debian_server: MavenServer, tmp_path: Path, pg: dict[str, object]) -> None:
    console = CaptureConsole()
    profiles = _profiles(tmp_path / "cfg", {"pg": _pg(PG)})
    outcome = sync(SyncOptions(profiles_dir=str(profiles), mirror=debian_server.url), console,
                   policy=FAST_RETRY)
    assert outcome.exit_code == 0, console.text
    jars = [str(p) for p in Manifest.load(dvt_env / "jars").jars_for(["output:pg"])]
    assert len(jars) == 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_SUBMIT")}
    env["PROOF_PG"] = json.dumps(pg)  # the login stays off the command line
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(jars)], capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ROW 1" in run.stdout
