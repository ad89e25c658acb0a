"""The embedded demo: Derby (shipped inside PySpark) to Parquet, no server, no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dvt_connect.console import CaptureConsole
from dvt_connect.demo import create_demo
from dvt_connect.paths import dvt_home

pytestmark = [pytest.mark.spark]


def test_demo_seeds_derby_and_transfers_it_to_parquet(spark, tmp_path):
    home = dvt_home()
    result = create_demo(home / "profiles.yml", CaptureConsole(), rows=3000)
    assert result.seeded and result.profile_added
    # a second run neither re-seeds nor adds the profile twice
    again = create_demo(home / "profiles.yml", CaptureConsole(), rows=3000)
    assert not again.seeded and not again.profile_added

    env = dict(os.environ, DVT_HOME=str(home))
    env.pop("DVT_PROFILES_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "dvt_connect", "transfer", "--profile", "demo", "--source",
         "derby", "--table", "APP.ORDERS", "--target", "lake", "--target-table", "orders",
         "--partitions", "3", "--json"],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["rows"] == 3000
    assert stats["partitions"] == 3
    parquet = spark.read.parquet(str(result.lake / "orders"))
    assert parquet.count() == 3000
    assert parquet.selectExpr("count(DISTINCT ORDER_ID)").first()[0] == 3000
    assert stats["bytes"] == sum(f.stat().st_size for f in (result.lake / "orders").rglob("*")
                                 if f.is_file() and not f.name.startswith((".", "_")))
