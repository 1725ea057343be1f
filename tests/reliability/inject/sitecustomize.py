"""Put on PYTHONPATH by `tests.reliability.faults.DiskBudget.env()`: every Python process started with that
environment (the command and its worker processes) sees the test's small disk."""

import os

if os.environ.get("OBH_TEST_DISK_BUDGET"):
    from tests.reliability.faults import install_from_env

    install_from_env()
