"""The running local stack, as `make up` left it: its services, ports and databases.

These tests talk to real processes over real connections; stack/scripts/test.sh exports the
stack's settings (stack/env.sh) before running them.
"""

import os

import pytest

from bench.stack import ROOT, SERVICES, ctl, database_url  # noqa: F401 - the stack, as bench sees it
from bench.stack import url as service_url  # noqa: F401
from tests.polling import wait_until  # noqa: F401 - re-exported for the stack tests
from tests.stack.browser import browser, page  # noqa: F401 - fixtures of the browser tests


def event_workers(service: str) -> list[str]:
    """The supervisor names of the service's event workers (app:consume-<service>-<n>)."""
    prefix = f"app:consume-{service}-"
    return [line.split()[0] for line in ctl("status").splitlines() if line.startswith(prefix)]


@pytest.fixture(scope="session", autouse=True)
def stack_is_running():
    if "ORDERS_PORT" not in os.environ:
        pytest.fail(
            "run these through `make test` (stack/scripts/test.sh), which exports the stack's settings"
        )
