"""The payments tests charge through the running card gateway simulator (the local stack's, at
PAYMENTS_GATEWAY_URL), over HTTP with the stripe SDK, and read its own ledger."""

import uuid
from decimal import Decimal

import pytest
import requests
from django.conf import settings

from payments.gateway import gateway


class CardGatewayControl:
    """The simulator's test controls: its faults and its ledger (docs/card-gateway.md)."""

    def __init__(self, url: str):
        self.url = url

    def faults(self, **values) -> None:
        requests.post(f"{self.url}/_faults", json=values, timeout=10).raise_for_status()

    def faults_reset(self) -> None:
        requests.delete(f"{self.url}/_faults", timeout=10).raise_for_status()

    def ledger(self, order_id: str) -> list[dict]:
        response = requests.get(f"{self.url}/_ledger", params={"order_id": order_id}, timeout=10)
        response.raise_for_status()
        return response.json()["data"]

    def net(self, order_id: str) -> Decimal:
        """What the order was charged, net of refunds, by the gateway's own account."""
        return sum(
            (
                Decimal(op["amount"]) * (1 if op["kind"] == "charge" else -1)
                for op in self.ledger(order_id)
                if op["status"] == "succeeded"
            ),
            Decimal("0"),
        )


@pytest.fixture(autouse=True)
def card_gateway():
    """The simulator with no fault, before and after each test (a test that cannot reach it
    fails: it is part of the local stack, started by make up)."""
    control = CardGatewayControl(settings.PAYMENTS_GATEWAY_URL)
    control.faults_reset()
    gateway.cache_clear()
    yield control
    control.faults_reset()
    gateway.cache_clear()


@pytest.fixture
def order_id() -> str:
    """An order id no earlier run used: the simulator's ledger outlives the test database."""
    return str(uuid.uuid4())


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a call as if its transaction committed: what it left for after the commit (the
    gateway calls of payments_settle) runs too, as it does outside tests."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run
