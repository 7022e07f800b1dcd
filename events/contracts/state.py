"""The internal state API's records (config/internal_api.py): what orders, inventory and payments
answer the reconciliation service about an order, and inventory about its products.

Both sides use these models: each service builds its answer's records with them (so it cannot
answer a field the contract does not hold, or leave one out), and reconciliation's client
validates every record it reads into them (reconciliation/clients.py), so its rules read typed
attributes, not string keys. A change to a record is a change to this contract, made for both
sides at once; the services are deployed before reconciliation reads a new field.
"""

from datetime import datetime
from decimal import Decimal

import pydantic


class Record(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    def as_json(self) -> dict:
        """The record as the API answers it: times as ISO 8601, amounts as decimal strings."""
        return self.model_dump(mode="json")


class OrderRecord(Record):
    order_id: str
    # The customer's id, as OrderCreated's customer_id says it: reconciliation keys a customer by
    # that one id, whether it learns the order from an event or from this.
    customer: str
    status: str
    failure_reason: str
    total_amount: Decimal
    currency: str
    version: int
    created_at: datetime
    updated_at: datetime


class ReservationRecord(Record):
    order_id: str
    status: str
    release_reason: str
    lines: list[dict]
    version: int
    created_at: datetime
    updated_at: datetime


class PaymentRecord(Record):
    order_id: str
    payment_id: str
    status: str
    # None until the order's terms are known (the payment row can come first).
    amount: Decimal | None
    failure_reason: str
    version: int
    processed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProductRecord(Record):
    sku: str
    stock_quantity: int
    reserved_quantity: int
    # The units its held reservations hold, which reserved_quantity must equal.
    held_quantity: int
    version: int
