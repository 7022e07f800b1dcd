"""Events of the payments service (topic oms.payments.events, keyed by order id)."""

from typing import Literal

import pydantic

from events.contracts.common import Money
from events.schemas import register


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


register("PaymentProcessed", 1, PaymentProcessedV1)
register("PaymentRefunded", 1, PaymentRefundedV1)
