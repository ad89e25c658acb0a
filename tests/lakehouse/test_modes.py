"""PostgreSQL -> Delta and -> Iceberg in every mode, real tables, the runtimes `dvt sync` fetched
from Maven Central. One Spark session in its own process runs every step (scenario.py); the
tests here compare what it saw: the target read with the format's own Spark reader against the
source read with psycopg, after each step.

No Delta or Iceberg runtime is built for every Spark minor (none for 4.3: Delta 4.4.0 is built
for 4.2, Iceberg 1.12.0 for 4.1), and dvt refuses a build for another minor. So these tests carry
the `lakehouse_runtime` marker: `make test` leaves them out of its main run and runs them in
`make test-lakehouse`, in a second venv on a PySpark both runtimes are built for (4.1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvt_connect.console import CaptureConsole
from dvt_connect.jars.manifest import Manifest
from dvt_connect.jars.spark_versions import installed_spark
from dvt_connect.jars.sync import SyncOptions, sync

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.maven,
              pytest.mark.lakehouse_runtime]

FORMATS = ("delta", "iceberg")
SCENARIO = Path(__file__).with_name("scenario.py")
_MINOR = installed_spark().spark_minor


@pytest.fixture(scope="module")
def results(maven_cache: Path, pg: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
            ) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("lakehouse")
    cfg = tmp / "cfg"
    cfg.mkdir()
    (cfg / "profiles.yml").write_text(yaml.safe_dump({"lake": {"target": "pg", "outputs": {
        "pg": {"type": "postgres", "host": pg["host"], "port": pg["port"], "user": pg["user"],
               "dbname": pg["database"]},
        **{fmt: {"type": "files", "path": str(tmp / fmt), "format": fmt} for fmt in FORMATS},
    }}}))
    home = maven_cache / f"dvt-home-spark{_MINOR}"
    jars_dir = maven_cache / f"jars-spark{_MINOR}"
    old = os.environ.get("DVT_HOME")
    os.environ["DVT_HOME"] = str(home)
    try:
        console = CaptureConsole()
        outcome = sync(SyncOptions(profiles_dir=str(cfg), profile="lake", jars_dir=jars_dir),
                       console)
        assert outcome.exit_code == 0, console.text
    finally:
        if old is None:
            os.environ.pop("DVT_HOME", None)
        else:
            os.environ["DVT_HOME"] = old
    manifest = Manifest.load(jars_dir)
    jars = [str(p) for p in manifest.jars_for(["adapter:postgres", "format:delta",
                                                "format:iceberg"])]
    env = {**os.environ, "DVT_HOME": str(tmp / "home")}
    run = subprocess.run([sys.executable, str(SCENARIO), json.dumps(
        {"pg": pg, "lake": f"file://{tmp}/lake", "jars": jars, "formats": FORMATS})],
        capture_output=True, text=True, timeout=1800, env=env)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stdout[-3000:] + run.stderr[-6000:]
    return json.loads(lines[-1][len("RESULT "):])


def _five() -> list[list[Any]]:
    return [[i, f"n{i}", i * 10] for i in range(1, 6)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_overwrite_append_truncate(results: dict[str, Any], fmt: str) -> None:
    steps = results[fmt]
    over = steps["overwrite"]
    assert over["target"] == over["source"] == _five()
    assert over["partitioning"] == (["name"] if fmt == "delta" else ["partition"])
    assert len(over["history"]) == 1
    assert any(f"{fmt} commit:" in n and "added" in n and "5 row(s)" in n
               for n in over["notes"]), over["notes"]
    assert over["bytes"] and over["bytes"] > 0  # the bytes the commit added
    append = steps["append"]
    assert append["target"] == sorted(_five() * 2) and len(append["history"]) == 2
    truncate = steps["truncate"]
    assert truncate["target"] == truncate["source"] == _five()
    assert len(truncate["history"]) == 3  # one commit each


@pytest.mark.parametrize("fmt", FORMATS)
def test_merge_and_incremental(results: dict[str, Any], fmt: str) -> None:
    merge = results[fmt]["merge"]
    assert merge["target"] == merge["source"]
    assert merge["inserted"] == 1 and merge["updated"] == (5 if fmt == "delta" else None)
    assert len(merge["history"]) == 4
    inc = results[fmt]["incremental"]
    assert inc["read_from"] == "70" and inc["mark"] == "90"
    assert inc["rows"] == 2  # only id 3 (updated) and id 7 (new) were read
    assert inc["target"] == inc["source"]
    assert len(inc["history"]) == 5


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failed_transfer_leaves_the_previous_snapshot(results: dict[str, Any],
                                                        fmt: str) -> None:
    steps = results[fmt]
    failure = steps["failure"]
    assert failure.get("error"), failure
    assert failure["history"] == steps["incremental"]["history"]
    assert failure["target"] == steps["incremental"]["target"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_schema_evolution(results: dict[str, Any], fmt: str) -> None:
    steps = results[fmt]
    refused = steps["new_column_refused"]
    assert refused["exit_code"] == 2
    assert "`extra` (string)" in refused["message"]
    assert refused["history"] == steps["incremental"]["history"]
    added = steps["schema_evolution_add"]
    assert added["target"] == added["source"]
    assert [r[3] for r in added["target"]] == [f"x{i}" for i in range(1, 8)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_table_as_a_source_as_of_the_first_commit(results: dict[str, Any], fmt: str) -> None:
    back = results[fmt]["read_back"]
    assert back["rows"] == 4
    assert back["target"] == [[i, f"n{i}"] for i in range(2, 6)]
