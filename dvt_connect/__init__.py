"""dvt-connect: move tables between databases, warehouses and lakes on Apache Spark."""

from __future__ import annotations

__version__ = "0.1.0"
