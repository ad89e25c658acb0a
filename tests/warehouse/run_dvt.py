"""`dvt` in its own process, with the warehouse's SQL endpoint replaced by the double
(:mod:`tests.warehouse.doubles`) when one is named in the environment; everything else is the
real command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from dvt_connect.cli.main import main  # noqa: E402
from dvt_connect.connectors.stage_native.executor import use_executor  # noqa: E402
from tests.warehouse.doubles import ENV, WarehouseDouble  # noqa: E402

if __name__ == "__main__":
    if os.environ.get(ENV):
        double = WarehouseDouble.from_env()
        with use_executor(double.database, double.session):
            main()
    else:  # BigQuery: its real client talks to the REST double (tests.warehouse.bigquery_double)
        main()
