"""Bucket filesystems as data, and the database registry under its older names.

What each *database* is lives in :mod:`dvt_connect.databases` (one module per database);
``ADAPTERS``/``adapter``/``AdapterFacts`` are the same objects under the names the rest of the
code and the tests have long used. ``FILESYSTEMS`` says which Hadoop filesystem each bucket type
needs on Spark's classpath and which URL schemes it serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dvt_connect.databases import COMMON_SECRET_FIELDS, DATABASES, TYPE_ALIASES, database
from dvt_connect.databases.spec import CatalogQueries, Database, NativeFacts

__all__ = ["ADAPTERS", "COMMON_SECRET_FIELDS", "FILESYSTEMS", "TYPE_ALIASES", "AdapterFacts",
           "CatalogQueries", "FilesystemFacts", "NativeFacts", "adapter", "filesystem_of"]

AdapterFacts = Database
ADAPTERS: Mapping[str, Database] = DATABASES
adapter = database


@dataclass(frozen=True)
class FilesystemFacts:
    """The Hadoop filesystem a bucket type needs on Spark's classpath.

    ``packages`` may contain ``{hadoop}``: the Hadoop version the installed PySpark ships (the
    filesystem jar must match it exactly). ``transitive=False`` takes the jar alone: a shaded
    jar bundles what its POM lists.
    """

    type: str
    scheme: str
    packages: tuple[str, ...] = ()
    transitive: bool = True
    docs: str = ""
    sources: tuple[str, ...] = ()
    # URL prefixes of paths on this filesystem (a files output's `path:`)
    url_prefixes: tuple[str, ...] = ()


# Hadoop filesystems for staging buckets, by bucket type.
FILESYSTEMS: Mapping[str, FilesystemFacts] = MappingProxyType(
    {
        facts.type: facts
        for facts in (
            FilesystemFacts(
                type="s3",
                scheme="s3a",
                url_prefixes=("s3a://", "s3://"),
                # hadoop-aws must be the exact Hadoop version Spark ships; its POM declares the
                # AWS SDK v2 `software.amazon.awssdk:bundle` it was built with.
                packages=("org.apache.hadoop:hadoop-aws:{hadoop}",),
                docs="https://hadoop.apache.org/docs/stable/hadoop-aws/tools/hadoop-aws/",
                sources=("https://hadoop.apache.org/release/3.4.3.html (the SDK bundle is "
                         "declared by hadoop-aws, not shipped)",),
            ),
            FilesystemFacts(
                type="gcs",
                scheme="gs",
                url_prefixes=("gs://",),
                # the shaded jar bundles the Google client libraries its POM lists; 3.0.4 is
                # the newest 3.x whose `-shaded` jar the Maven Central we test against serves
                # (3.1.x there has only the unshaded jar)
                packages=("com.google.cloud.bigdataoss:gcs-connector:3.0.4:shaded",),
                transitive=False,
                docs="https://github.com/GoogleCloudDataproc/hadoop-connectors",
                sources=("https://repo1.maven.org/maven2/com/google/cloud/bigdataoss/"
                         "gcs-connector/3.0.4/ (gcs-connector-3.0.4-shaded.jar)",
                         "GoogleCloudDataproc/hadoop-connectors gcs/CHANGES.md (3.x: Hadoop "
                         "3 only)"),
            ),
            FilesystemFacts(
                type="azure",
                scheme="abfss",
                url_prefixes=("abfss://", "wasbs://"),
                packages=("org.apache.hadoop:hadoop-azure:{hadoop}",),
                docs="https://hadoop.apache.org/docs/stable/hadoop-azure/abfs.html",
            ),
            FilesystemFacts(type="local", scheme="file"),
        )
    }
)



def filesystem_of(path: str) -> FilesystemFacts | None:
    """The bucket filesystem a path's URL scheme names (``s3a://`` -> s3), or None (local)."""
    for facts in FILESYSTEMS.values():
        if any(path.startswith(prefix) for prefix in facts.url_prefixes):
            return facts
    return None
