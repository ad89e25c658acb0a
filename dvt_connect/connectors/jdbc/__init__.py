"""The JDBC connector: partitioned reads (:mod:`.connector`), staged writes (:mod:`.writer`),
error classification (:mod:`.errors`) and the Spark JDBC URL/properties (:mod:`.session`)."""

from __future__ import annotations

from dvt_connect.connectors.jdbc.connector import JDBCConnector, JdbcReadPlan

__all__ = ["JDBCConnector", "JdbcReadPlan"]
