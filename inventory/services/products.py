"""Products and their stock, as staff change them (the API, the admin) and reconciliation's
recount: each change is audited (a StockMovement) and published (ProductUpdated), in one
transaction."""

import enum
from decimal import Decimal

from django.db import transaction

from events.publishing import publish
from inventory.models import Product, Reservation, StockMovement


class Refusal(enum.StrEnum):
    NEGATIVE = "negative"
    BELOW_HELD = "below_held"
    HELD_ABOVE_STOCK = "held_above_stock"
    NO_RESERVATION = "no_reservation"
    NOT_HELD = "not_held"


class InventoryError(Exception):
    """A requested change that the inventory's rules refuse: `code` (a Refusal) says which rule,
    the message says why to a person."""

    def __init__(self, code: Refusal, message: str):
        self.code = code
        super().__init__(message)


def product_upsert(
    *, sku: str, name: str, price: Decimal, stock_quantity: int, actor: str
) -> tuple[Product, bool]:
    """Create the product, or update its name, price and units on hand. Returns (product, created)."""
    if price < 0 or stock_quantity < 0:
        raise InventoryError(Refusal.NEGATIVE, "price and stock_quantity cannot be negative")
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(sku=sku).first()
        created = product is None
        if created:
            product = Product.objects.create(sku=sku, name=name, price=price, stock_quantity=stock_quantity)
            _record(
                product, StockMovement.Kind.SET, actor, stock_change=stock_quantity, reason="product created"
            )
        else:
            if stock_quantity < product.reserved_quantity:
                raise InventoryError(
                    Refusal.BELOW_HELD,
                    f"{product.reserved_quantity} units of {sku} are held for orders; "
                    f"stock_quantity cannot go below that",
                )
            change = stock_quantity - product.stock_quantity
            product.name, product.price, product.stock_quantity = name, price, stock_quantity
            product.version += 1
            product.save()
            if change:
                _record(product, StockMovement.Kind.SET, actor, stock_change=change, reason="stock set")
        _publish_product(product)
    return product, created


def stock_adjust(*, sku: str, delta: int, reason: str, actor: str) -> Product:
    """Add (or with a negative delta remove) units on hand, e.g. a delivery or a stock count."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(sku=sku)
        if product.stock_quantity + delta < product.reserved_quantity:
            raise InventoryError(
                Refusal.BELOW_HELD,
                f"{sku} has {product.stock_quantity} on hand, {product.reserved_quantity} held for orders: "
                f"it cannot lose {-delta}",
            )
        product.stock_quantity += delta
        product.version += 1
        product.save()
        _record(product, StockMovement.Kind.ADJUST, actor, stock_change=delta, reason=reason)
        _publish_product(product)
    return product


def product_recount_reserved(*, sku: str, actor: str) -> Product | None:
    """Set the product's reserved counter to the units its held reservations hold: the repair
    for a counter that drifted from them. No-op when they agree or the product is gone."""
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(sku=sku).first()
        if product is None:
            return None
        # Every change to a reservation holding this sku locks the product first, so with the
        # product locked the held reservations stand still while they are counted.
        held = Reservation.objects.filter(status=Reservation.Status.HELD, lines__contains=[{"sku": sku}])
        actual = sum(
            line["quantity"] for reservation in held for line in reservation.lines if line["sku"] == sku
        )
        change = actual - product.reserved_quantity
        if change == 0:
            return product
        if actual > product.stock_quantity:
            raise InventoryError(
                Refusal.HELD_ABOVE_STOCK,
                f"{sku}: held reservations hold {actual} units, more than the {product.stock_quantity} "
                f"on hand; count the stock and set it first",
            )
        product.reserved_quantity = actual
        product.save(update_fields=["reserved_quantity", "updated_at"])
        _record(
            product,
            StockMovement.Kind.ADJUST,
            actor,
            reserved_change=change,
            reason="reserved counter recounted",
        )
    return product


def _record(product: Product, kind, actor: str, *, stock_change=0, reserved_change=0, order_id="", reason=""):
    StockMovement.objects.create(
        product=product,
        kind=kind,
        stock_change=stock_change,
        reserved_change=reserved_change,
        stock_after=product.stock_quantity,
        reserved_after=product.reserved_quantity,
        order_id=order_id,
        reason=reason,
        actor=actor,
    )


def _publish_product(product: Product) -> None:
    publish(
        "ProductUpdated",
        aggregate_type="product",
        aggregate_id=product.sku,
        sequence=product.version,
        payload={"sku": product.sku, "name": product.name, "price": product.price},
    )
