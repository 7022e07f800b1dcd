"""The running local stack, as `make up` left it: its services, ports and databases.

These tests talk to real processes over real connections; stack/scripts/test.sh exports the
stack's settings (stack/env.sh) before running them.
"""

import os
import subprocess
from pathlib import Path

import pytest

from tests.polling import wait_until  # noqa: F401 - re-exported for the stack tests
from tests.stack.browser import browser, page  # noqa: F401 - fixtures of the browser tests

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("orders", "inventory", "payments", "reconciliation")


def service_url(service: str) -> str:
    return f"http://127.0.0.1:{os.environ[f'{service.upper()}_PORT']}"


def database_url(service: str) -> str:
    return os.environ[f"{service.upper()}_DATABASE_URL"]


def event_workers(service: str) -> list[str]:
    """The supervisor names of the service's event workers (app:consume-<service>-<n>)."""
    prefix = f"app:consume-{service}-"
    return [line.split()[0] for line in ctl("status").splitlines() if line.startswith(prefix)]


def ctl(*args: str) -> str:
    """Run supervisorctl against the stack; return its output."""
    result = subprocess.run([ROOT / "stack" / "ctl", *args], capture_output=True, text=True, timeout=60)
    return result.stdout


@pytest.fixture(scope="session", autouse=True)
def stack_is_running():
    if "ORDERS_PORT" not in os.environ:
        pytest.fail(
            "run these through `make test` (stack/scripts/test.sh), which exports the stack's settings"
        )
