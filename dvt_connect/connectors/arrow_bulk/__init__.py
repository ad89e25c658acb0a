"""Native bulk paths for databases Spark also reaches over JDBC (PostgreSQL, MySQL, MariaDB).

:mod:`.columns` (types and conversions), :mod:`.tasks` (what runs inside Spark tasks: the Arrow
data source, Parquet staging, bulk loading), :mod:`.tables` (the core's staged write over a
DB-API connection), :mod:`.connector` (the connector the dialects build on).
"""

from __future__ import annotations
