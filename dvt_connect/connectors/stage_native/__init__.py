"""The stage-native warehouse path: the warehouse's own bulk SQL moves the rows through a bucket
folder (unload, then Spark reads the Parquet; Spark writes Parquet, then the warehouse loads it).

Nothing here depends on the Spark version: the SQL goes over the warehouse's JDBC driver (or its
Python client), the files over the Hadoop filesystem jar of the bucket. What differs between
warehouses is data (:class:`~dvt_connect.databases.spec.StageFacts` in each database module);
:mod:`.sql` renders it, :mod:`.executor` runs it, :mod:`.connector` is the connector.
"""

from dvt_connect.connectors.stage_native.connector import (
    BigQueryUnloadConnector,
    RedshiftUnloadConnector,
    SnowflakeUnloadConnector,
    StageNativeConnector,
)

__all__ = ["BigQueryUnloadConnector", "RedshiftUnloadConnector", "SnowflakeUnloadConnector",
           "StageNativeConnector"]
