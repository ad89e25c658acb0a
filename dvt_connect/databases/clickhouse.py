"""ClickHouse over its JDBC driver."""

from __future__ import annotations

from dvt_connect.databases.spec import Database

CLICKHOUSE = Database(
    name="clickhouse",
    kind="jdbc",
    url_template="jdbc:clickhouse://{host}:{port}/{database}",
    default_port=8123,
    driver_class="com.clickhouse.jdbc.ClickHouseDriver",
    driver_packages=("com.clickhouse:clickhouse-jdbc:0.7.1",),
    quote="`",
    required=("host",),
    aliases={"pass": "password"},
)

DATABASES = (CLICKHOUSE,)
