"""Run by test_non_utc_jvm (in a subprocess: a JVM's zone is fixed when it starts): copy the
PostgreSQL fixture into MariaDB from a JVM in another time zone; print what differed as JSON."""

from __future__ import annotations

import json
import sys

from pyspark.sql import SparkSession

from dvt_connect.connectors.base import TableRef, WriteRequest
from dvt_connect.connectors.jdbc.writer import write_jdbc
from dvt_connect.console import CaptureConsole

from ..conftest import MARIADB, PG, debian_jdbc_jars
from .fixtures import (
    create_pg_typed,
    expected_rows,
    mariadb_connection,
    mariadb_drop,
    mariadb_rows,
    normalize,
    pg_connection,
    pg_drop,
    spark_read,
    unique_name,
)


def main() -> None:
    spark = (SparkSession.builder.master("local[1]")
             .config("spark.jars", ",".join(str(j) for j in debian_jdbc_jars()))
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.extraJavaOptions", " ".join(sys.argv[1:]))
             .getOrCreate())
    spark.sparkContext.setLogLevel("OFF")
    source, target = unique_name("dvtw_tzsrc"), unique_name("dvtw_tzdst")
    create_pg_typed(PG, source)
    try:
        console = CaptureConsole()
        write_jdbc(spark, mariadb_connection(MARIADB), spark_read(spark, pg_connection(PG), source),
                   WriteRequest(table=TableRef(target)), console=console)
        got = [normalize(r, instants_as_utc=["tstz"], booleans=["flag"])
               for r in mariadb_rows(MARIADB, target)]
        diffs = [[g["id"], k, str(g[k]), str(e[k])]
                 for g, e in zip(got, [normalize(r) for r in expected_rows()], strict=True)
                 for k in g if g[k] != e[k]]
        print(json.dumps({"warnings": console.warnings(), "diffs": diffs}))
    finally:
        pg_drop(PG, source)
        mariadb_drop(MARIADB, target)
        spark.stop()


if __name__ == "__main__":
    main()
