"""The warehouses' Spark connectors write overwrite and append only: any other mode is refused
before anything runs, pointing at the JDBC path, which has them all."""

from __future__ import annotations

import pytest

from dvt_connect.config import Project
from dvt_connect.connectors.base import TableRef, WriteRequest
from dvt_connect.connectors.bigquery import BigQueryNativeConnector
from dvt_connect.connectors.snowflake import SnowflakeNativeConnector
from dvt_connect.errors import UsageError


@pytest.mark.parametrize("request_", [
    WriteRequest(table=TableRef("t"), mode="merge", primary_key=("id",)),
    WriteRequest(table=TableRef("t"), mode="truncate"),
    WriteRequest(table=TableRef("t"), mode="incremental", update_key="u"),
])
def test_other_modes_are_refused(project: Project, request_: WriteRequest) -> None:
    for connector in (SnowflakeNativeConnector(None, project.connection("snow")),  # type: ignore[arg-type]
                      BigQueryNativeConnector(None, project.connection("bq"))):  # type: ignore[arg-type]
        with pytest.raises(UsageError, match=f"--mode {request_.mode} into .*overwrite and "
                                             "append only"):
            connector.describe_write(request_)
        assert connector.describe_write(WriteRequest(table=TableRef("t"), mode="append")) == []
