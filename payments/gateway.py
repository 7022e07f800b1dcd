"""The card gateway, behind a small interface; this one is simulated (a real one is out of scope).

It follows the well-known test cards: tok_visa and tok_mastercard are approved,
tok_chargeDeclined and tok_chargeDeclinedInsufficientFunds are declined. Like a real gateway it
takes an idempotency key, so a charge retried after a crash is not taken twice. Its latency and
a rate of transient errors are configurable (PAYMENTS_GATEWAY_LATENCY_MS,
PAYMENTS_GATEWAY_ERROR_RATE) to exercise failure handling.

Its ledger (GatewayCharge) lives in the payments database and commits with the payment: a real
gateway's would not roll back with us, which is exactly what its idempotency key is for.
"""

import random
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection

from payments import sql
from payments.models import GatewayCharge

DECLINES = {
    "tok_chargeDeclined": "card_declined",
    "tok_chargeDeclinedInsufficientFunds": "insufficient_funds",
}
APPROVED = {"tok_visa", "tok_mastercard"}


class GatewayUnavailable(Exception):
    """A transient failure: the charge may be retried with the same idempotency key."""


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    reference: str
    decline_code: str = ""


class SimulatedGateway:
    def __init__(self, *, latency_ms: int = 0, error_rate: float = 0.0):
        self.latency_ms = latency_ms
        self.error_rate = error_rate

    def charge(self, *, idempotency_key: str, amount: Decimal, card_token: str) -> ChargeResult:
        self._call()
        decline = DECLINES.get(card_token, "" if card_token in APPROVED else "invalid_token")
        with connection.cursor() as cursor:
            sql.GATEWAY_CHARGE.execute(
                cursor,
                [idempotency_key, f"ch_{uuid.uuid4().hex[:24]}", amount, not decline, decline],
            )
            charged = cursor.fetchone()
            if charged is None:  # the key was charged before: the first result stands
                sql.GATEWAY_CHARGE_FIRST.execute(cursor, [idempotency_key])
                charged = cursor.fetchone()
        return ChargeResult(*charged)

    def refund(self, *, reference: str) -> None:
        self._call()
        GatewayCharge.objects.filter(reference=reference).update(refunded=True)

    def _call(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)  # the simulated network round trip
        if self.error_rate and random.random() < self.error_rate:
            raise GatewayUnavailable("the card gateway did not answer (simulated)")


def gateway() -> SimulatedGateway:
    return SimulatedGateway(
        latency_ms=settings.PAYMENTS_GATEWAY_LATENCY_MS, error_rate=settings.PAYMENTS_GATEWAY_ERROR_RATE
    )
