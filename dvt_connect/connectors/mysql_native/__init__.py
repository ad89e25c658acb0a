"""The native MySQL/MariaDB connector (:mod:`.connector`): ConnectorX streaming reads, LOAD DATA
LOCAL INFILE writes, inside Spark tasks (:mod:`.driver`, which the Python workers import without
the connector)."""
