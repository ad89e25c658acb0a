"""Connectors: the registry and the factory that picks one (:mod:`.factory`), what they share
(:mod:`.base`, :mod:`.selection`, :mod:`.staging`), and one module or package per path.

Nothing is imported here: the Python workers of the Arrow route import only their task code
(:mod:`.arrow_bulk`) and a database's bulk driver, not the driver side's configuration and
factory (measured: the Python daemon's imports before it forked the workers of a PostgreSQL ->
Parquet move took 0.29-0.31 s without them, 0.38-0.43 s with).
"""
