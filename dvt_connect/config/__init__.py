"""Configuration: ``profiles.yml`` connections and ``buckets.yml`` staging buckets."""

from __future__ import annotations

from dvt_connect.config.buckets import (
    AzureBucket,
    Bucket,
    GCSBucket,
    LocalBucket,
    S3Bucket,
    parse_bucket,
)
from dvt_connect.config.profiles import Connection, parse_connection
from dvt_connect.config.project import Project, load_project

__all__ = [
    "AzureBucket", "Bucket", "Connection", "GCSBucket", "LocalBucket", "Project", "S3Bucket",
    "load_project", "parse_bucket", "parse_connection",
]
