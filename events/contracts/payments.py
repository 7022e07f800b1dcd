"""Events of the payments service (topic oms.payments.events, keyed by order id)."""

from typing import Literal

import pydantic

from events.contracts.common import Money
from events.schemas import register

# The card tokens the (simulated) gateway knows, after the well-known test cards: an order must
# name one. tok_visa and tok_mastercard are approved; the others are declined.
CARD_TOKENS = frozenset(
    {"tok_visa", "tok_mastercard", "tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds"}
)


class PaymentProcessedV1(pydantic.BaseModel):
    order_id: str
    payment_id: str
    status: Literal["succeeded", "failed"]
    amount: Money
    reason: str = ""


class PaymentRefundedV1(pydantic.BaseModel):
    order_id: str
    payment_id: str
    amount: Money


register("PaymentProcessed", 1, PaymentProcessedV1, producer="payments")
register("PaymentRefunded", 1, PaymentRefundedV1, producer="payments")
