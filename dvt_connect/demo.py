"""The embedded demo: a Derby database of orders and a Parquet lake, no server, no network.

Derby's embedded JDBC driver ships inside PySpark's own jars, so `dvt init --demo` can seed a
real database with Spark itself and `make demo` can run a real `dvt transfer` on a fresh machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from dvt_connect.paths import dvt_home

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dvt_connect.console import Console

DEMO_PROFILE = "demo"
DEFAULT_ROWS = 1_000_000
TABLE = "APP.ORDERS"


@dataclass(frozen=True)
class DemoResult:
    profiles_path: Path
    database: Path
    lake: Path
    rows: int
    profile_added: bool
    seeded: bool


def demo_dir() -> Path:
    return dvt_home() / "demo"


def demo_profile_text(database: Path, lake: Path) -> str:
    """The `demo` profile: a Derby source and a Parquet lake target."""
    return (
        f"\n# Added by `dvt init --demo`: an embedded Derby source and a local Parquet lake.\n"
        f"{DEMO_PROFILE}:\n"
        f"  target: lake\n"
        f"  outputs:\n"
        f"    derby:\n"
        f"      type: derby\n"
        f"      path: {database}\n"
        f"      partition_column: ORDER_ID\n"
        f"    lake:\n"
        f"      type: files\n"
        f"      path: {lake}\n"
        f"      format: parquet\n"
    )


def add_demo_profile(profiles_path: Path, database: Path, lake: Path) -> bool:
    """Append the demo profile unless the file already has one. Returns True if added."""
    if profiles_path.exists():
        data = yaml.safe_load(profiles_path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and DEMO_PROFILE in data:
            return False
        with profiles_path.open("a", encoding="utf-8") as handle:
            handle.write(demo_profile_text(database, lake))
    else:
        profiles_path.parent.mkdir(parents=True, exist_ok=True)
        profiles_path.write_text(demo_profile_text(database, lake).lstrip("\n"),
                                 encoding="utf-8")
        profiles_path.chmod(0o600)
    return True


def seed_orders(spark: SparkSession, database: Path, rows: int) -> None:
    """Create APP.ORDERS in an embedded Derby database and fill it with ``rows`` orders."""
    from pyspark.sql import functions as F

    url = f"jdbc:derby:{database};create=true"
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    connection = jvm.java.sql.DriverManager.getConnection(url)
    try:
        statement = connection.createStatement()
        statement.executeUpdate(
            "CREATE TABLE APP.ORDERS ("
            "ORDER_ID BIGINT NOT NULL PRIMARY KEY, CUSTOMER_ID INTEGER NOT NULL, "
            "ORDER_DATE DATE NOT NULL, STATUS VARCHAR(16) NOT NULL, "
            "AMOUNT DECIMAL(12, 2) NOT NULL, DISCOUNT DOUBLE, "
            "CREATED_AT TIMESTAMP NOT NULL, NOTE VARCHAR(200))"
        )
        statement.close()
    finally:
        connection.close()
    statuses = F.array(*(F.lit(s) for s in ("placed", "shipped", "delivered", "returned")))
    orders = (
        spark.range(1, rows + 1, numPartitions=4)
        .select(
            F.col("id").alias("ORDER_ID"),
            ((F.col("id") * 7919) % 50_000 + 1).cast("int").alias("CUSTOMER_ID"),
            F.date_add(F.lit("2023-01-01").cast("date"), (F.col("id") % 730).cast("int"))
            .alias("ORDER_DATE"),
            F.element_at(statuses, (F.col("id") % 4 + 1).cast("int")).alias("STATUS"),
            ((F.col("id") * 37) % 100_000 / 100).cast("decimal(12,2)").alias("AMOUNT"),
            F.when(F.col("id") % 5 == 0, (F.col("id") % 30) / 100.0).alias("DISCOUNT"),
            (F.lit("2023-01-01 00:00:00").cast("timestamp")
             + F.make_interval(secs=(F.col("id") * 61) % 63_072_000)).alias("CREATED_AT"),
            # Spark binds a NULL string as CLOB, which a Derby VARCHAR rejects: no NULL notes
            F.when(F.col("id") % 11 == 0, F.concat(F.lit("gift order #"), F.col("id")))
            .otherwise(F.lit("")).alias("NOTE"),
        )
    )
    (orders.write.format("jdbc")
     .option("url", url)
     .option("driver", "org.apache.derby.jdbc.EmbeddedDriver")
     .option("dbtable", TABLE)
     .option("batchsize", "10000")
     .mode("append")
     .save())
    # Release the embedded database so another process (the transfer) can open it.
    # (Derby reports a successful shutdown as an exception)
    with contextlib.suppress(Exception):
        jvm.java.sql.DriverManager.getConnection(f"jdbc:derby:{database};shutdown=true")


def create_demo(profiles_path: Path, console: Console, *, rows: int = DEFAULT_ROWS,
                force: bool = False) -> DemoResult:
    """Write the demo profile and seed the Derby database (skipped if already seeded)."""
    from dvt_connect import spark as spark_mod

    base = demo_dir()
    database, lake = base / "orders_db", base / "lake"
    if force and database.exists():
        shutil.rmtree(database)
    added = add_demo_profile(profiles_path, database, lake)
    seeded = False
    if not database.exists():
        base.mkdir(parents=True, exist_ok=True)
        console.info(f"Seeding {rows:,} orders into the embedded Derby database at {database} …")
        spark = spark_mod.get_session(spark_mod.session_spec())
        # seed beside, then rename: a failed seed never leaves a half-filled database behind
        partial = base / f"orders_db.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            seed_orders(spark, partial, rows)
            partial.rename(database)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        seeded = True
    return DemoResult(profiles_path=profiles_path, database=database, lake=lake, rows=rows,
                      profile_added=added, seeded=seeded)
