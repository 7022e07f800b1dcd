"""The catalog read model: the orders service's copy of inventory's products and prices, kept
from ProductUpdated events; an older version of a product never overwrites a newer one."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from orders import sql


@dataclass(frozen=True)
class ProductVersion:
    """A product as one ProductUpdated event says it is; `version` is the event's sequence."""

    sku: str
    name: str
    price: Decimal
    version: int


def catalog_apply_products(products: list[ProductVersion]) -> None:
    """Apply a batch of ProductUpdated events (one per product) in one statement."""
    with connection.cursor() as cursor:
        sql.CATALOG_APPLY.execute(
            cursor,
            [
                [p.sku for p in products],
                [p.name for p in products],
                [p.price for p in products],
                [p.version for p in products],
            ],
        )
