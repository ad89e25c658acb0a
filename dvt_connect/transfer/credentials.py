"""Bucket credentials for a running Spark context, without a command line.

Settings given to the session builder become ``--conf`` arguments of the JVM that PySpark
launches, readable by every local user (``ps``) and copied into the JVM's hsperfdata file. The
credentials of the buckets a transfer uses are instead set on the running context's Hadoop
configuration, which every later read and write copies; buckets it does not use never reach the
JVM at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.connectors.selection import find_bucket

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_PREFIX = "spark.hadoop."


def buckets_in_use(project: Any, connections: Iterable[Connection], *,
                   preferred: str | None) -> list[Bucket]:
    """The buckets these outputs can touch: a files output's named bucket or the bucket its URI
    lies in, and the bucket a native path (connector or unload) would stage through."""
    buckets: Mapping[str, Bucket] = project.buckets or {}
    used: dict[str, Bucket] = {}
    for connection in connections:
        if connection.is_files:
            named = connection.extra.get("bucket")
            if named and str(named) in buckets:
                used.setdefault(str(named), buckets[str(named)])
            raw = (connection.path or "").replace("s3://", "s3a://", 1)
            for bucket in buckets.values():
                root = bucket.spark_path("").rstrip("/")
                if bucket.type != "local" and raw.startswith(root):
                    used.setdefault(bucket.name, bucket)
        # the bucket a native connector, or the warehouse's own unload, would stage through
        for facts in (connection.facts.native, connection.facts.stage):
            staging = find_bucket(facts, buckets, preferred) if facts is not None else None
            if staging is not None:
                used.setdefault(staging.name, staging)
    return list(used.values())


def apply_bucket_credentials(spark: SparkSession, buckets: Iterable[Bucket]) -> None:
    """Set each bucket's Hadoop settings on the running context (not on the Spark conf, which
    logs and the UI show). On a server other commands share (Spark Connect, or attached to the
    local server) nothing is set: the connectors that run there reach no bucket (those that
    would are refused at planning), and the server's own configuration holds any credentials its
    tasks need."""
    from dvt_connect.spark import shares_server

    if shares_server(spark):
        return
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for bucket in buckets:
        for key, value in bucket.hadoop_conf().items():
            hadoop.set(key[len(_PREFIX):] if key.startswith(_PREFIX) else key, value)
