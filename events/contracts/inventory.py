"""Events of the inventory service (topic oms.inventory.events).

ProductUpdated is keyed by sku; the reservation events by order id.
"""

from typing import Literal

import pydantic

from events.contracts.common import Line, Money, Sku
from events.schemas import register


class ProductUpdatedV1(pydantic.BaseModel):
    sku: Sku
    name: str
    price: Money


class InventoryReservedV1(pydantic.BaseModel):
    order_id: str
    lines: list[Line]


class InventoryRejectedV1(pydantic.BaseModel):
    order_id: str
    reason: Literal["out_of_stock", "unknown_product"]
    skus: list[Sku]


class InventoryReleasedV1(pydantic.BaseModel):
    order_id: str
    reason: str


class InventoryCommittedV1(pydantic.BaseModel):
    order_id: str


register("ProductUpdated", 1, ProductUpdatedV1, producer="inventory")
register("InventoryReserved", 1, InventoryReservedV1, producer="inventory")
register("InventoryRejected", 1, InventoryRejectedV1, producer="inventory")
register("InventoryReleased", 1, InventoryReleasedV1, producer="inventory")
register("InventoryCommitted", 1, InventoryCommittedV1, producer="inventory")
