"""Every change to inventory: products and their stock (products.py), and reservations for
orders (reservations.py). Callers use the names below."""

from inventory.services.products import (
    InventoryError,
    Refusal,
    product_recount_reserved,
    product_upsert,
    stock_adjust,
)
from inventory.services.reservations import (
    Hold,
    Settle,
    reservation_release,
    reservation_release_by_support,
    reservations_hold,
    reservations_lock,
    reservations_settle,
)

__all__ = [
    "Hold",
    "InventoryError",
    "Refusal",
    "Settle",
    "product_recount_reserved",
    "product_upsert",
    "reservation_release",
    "reservation_release_by_support",
    "reservations_hold",
    "reservations_lock",
    "reservations_settle",
    "stock_adjust",
]
