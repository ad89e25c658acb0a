"""The native MySQL/MariaDB connector: ConnectorX streaming reads, LOAD DATA LOCAL INFILE writes,
inside Spark tasks."""

from __future__ import annotations

from dvt_connect.connectors.mysql_native.connector import MySQLNativeConnector

__all__ = ["MySQLNativeConnector"]
