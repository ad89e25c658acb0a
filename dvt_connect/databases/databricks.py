"""Databricks SQL warehouses over the Databricks JDBC driver (token auth)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dvt_connect.databases.connection import Connection
from dvt_connect.databases.spec import Database


@dataclass(frozen=True, repr=False)
class DatabricksConnection(Connection):
    """A Databricks output: the warehouse's ``http_path`` goes into the URL."""

    @property
    def http_path(self) -> str:
        return str(self.extra.get("http_path", ""))

    def url_values(self) -> dict[str, Any]:
        return {"http_path": self.extra.get("http_path", "")}


DATABRICKS = Database(
    name="databricks",
    kind="jdbc",
    url_template="jdbc:databricks://{host}:443/default;transportMode=http;ssl=1;"
    "httpPath={http_path};AuthMech=3;UID=token",
    driver_class="com.databricks.client.jdbc.Driver",
    driver_packages=("com.databricks:databricks-jdbc:2.6.40",),
    quote="`",
    required=("host", "http_path"),
    connection=DatabricksConnection,
)

DATABASES = (DATABRICKS,)
