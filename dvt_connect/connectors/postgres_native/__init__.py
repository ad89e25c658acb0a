"""The native PostgreSQL connector (:mod:`.connector`): binary COPY both ways, inside Spark tasks
(:mod:`.driver`, which the Python workers import without the connector)."""
