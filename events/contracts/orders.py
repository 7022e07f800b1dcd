"""Events of the orders service (topic oms.orders.events, keyed by order id)."""

from typing import Literal

import pydantic

from events.contracts.common import Line, Money
from events.schemas import register


class OrderCreatedV1(pydantic.BaseModel):
    order_id: str
    customer_id: str
    lines: list[Line] = pydantic.Field(min_length=1)
    total_amount: Money
    currency: str = pydantic.Field(min_length=3, max_length=3)
    payment_token: str


class OrderCancelledV1(pydantic.BaseModel):
    order_id: str
    reason: str


class OrderCompletedV1(pydantic.BaseModel):
    order_id: str


class OrderFailedV1(pydantic.BaseModel):
    order_id: str
    reason: Literal["out_of_stock", "payment_declined", "timeout", "invalid_order", "compensated"]


register("OrderCreated", 1, OrderCreatedV1, producer="orders")
register("OrderCancelled", 1, OrderCancelledV1, producer="orders")
register("OrderCompleted", 1, OrderCompletedV1, producer="orders")
register("OrderFailed", 1, OrderFailedV1, producer="orders")
