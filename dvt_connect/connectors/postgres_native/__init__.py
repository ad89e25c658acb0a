"""The native PostgreSQL connector: binary COPY both ways, inside Spark tasks."""

from __future__ import annotations

from dvt_connect.connectors.postgres_native.connector import PostgresNativeConnector

__all__ = ["PostgresNativeConnector"]
