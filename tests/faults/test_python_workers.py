"""Finding 4: PYSPARK_PYTHON pointing at another interpreter does not break the bulk paths."""

from __future__ import annotations

import subprocess

import pytest

from faults.conftest import Cli, pg_table, psql, unique

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]

OTHER_PYTHON = "/usr/bin/python3"


def test_bulk_transfer_runs_its_workers_on_dvts_interpreter_whatever_pyspark_python_says(
        cli: Cli) -> None:
    lacks = subprocess.run([OTHER_PYTHON, "-c", "import dvt_connect"], capture_output=True,
                           cwd="/", check=False)
    assert lacks.returncode != 0, f"{OTHER_PYTHON} can import dvt_connect: proves nothing"
    table = unique("faults_pyspark_python")
    pg_table(table, "id bigint PRIMARY KEY, v text",
             "SELECT g, 'v' || g FROM generate_series(1, 5000) g")
    try:
        done = cli.run("transfer", "--source", "pg", "--table", table, "--connector", "native",
                       "--partitions", "2", "--target-table", table, "--json",
                       PYSPARK_PYTHON=OTHER_PYTHON)
        assert done.returncode == 0, done.stderr
        assert '"rows": 5000' in done.stdout
        import pyarrow.parquet as pq

        assert pq.read_table(cli.lake / table).num_rows == 5000
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")
