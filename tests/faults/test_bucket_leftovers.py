"""Finding 5 on buckets: hidden staging folders a killed run left beside a files output on a
bucket (s3a, moto's S3 server on loopback) are listed by `dvt debug` and `dvt clean`, and removed
only by `dvt clean --yes`: old ones only, nothing else in the bucket."""

from __future__ import annotations

import json
import time

import pytest

from dvt_connect.connectors.jdbc.ddl import side_token
from faults.conftest import S3_BUCKET, Cli, S3Server, unique

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.network]


def _keys(s3: S3Server, prefix: str) -> set[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET,
                                                                  Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def test_staging_folders_on_a_bucket_are_listed_and_removed_only_when_old(
        cli: Cli, s3: S3Server) -> None:
    # `s3lake` is the files output at `lake` in bucket `s3_used`
    name = unique("orders")
    hour_ago, now = time.time() - 3 * 3600, time.time()
    old = f"lake/.{name}__dvt_stage_{side_token(now=hour_ago)}"
    nested = f"lake/raw/.{name}__dvt_old_{side_token(now=hour_ago)}"
    young = f"lake/.{name}__dvt_stage_{side_token(now=now)}"  # a run still going
    data = f"lake/{name}/part-00000.parquet"
    for key in (f"{old}/part-00000.parquet", f"{old}/part-00001.parquet",
                f"{nested}/part-00000.parquet", f"{young}/part-00000.parquet", data):
        s3.client().put_object(Bucket=S3_BUCKET, Key=key, Body=b"PAR1")
    uri = f"s3a://{S3_BUCKET}/"
    leftovers = {uri + old, uri + nested}

    debug = cli.run("debug", "--older-than", "1h", "--json")
    found = {item["name"] for item in json.loads(debug.stdout)["leftovers"]["leftovers"]
             if item["output"] == "s3lake"}
    assert found == leftovers, debug.stdout + debug.stderr

    dry = cli.run("clean", "--output", "s3lake", "--older-than", "1h", "--json")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    listed = json.loads(dry.stdout)
    assert {item["name"] for item in listed["leftovers"]} == leftovers, dry.stdout
    assert listed["not_scanned"] == [] and listed["removed"] is False
    assert len(_keys(s3, "lake/")) == 5  # a dry run removes nothing

    done = cli.run("clean", "--output", "s3lake", "--older-than", "1h", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    # (S3A keeps the emptied parent `lake/raw/` as a folder marker, as a local disk keeps it)
    assert {k for k in _keys(s3, "lake/") if not k.endswith("/")} == {
        f"{young}/part-00000.parquet", data}
