"""Every change to inventory: products and stock (audited), and reservations for orders.

Each function changes state, records a StockMovement per product touched, and publishes its
event through the outbox, in one transaction. Products are locked in sku order, so concurrent
reservations cannot deadlock and never oversell.
"""

from collections import Counter
from decimal import Decimal

from django.db import transaction

from events.envelope import Envelope
from events.publishing import publish
from inventory.models import Product, Reservation, StockMovement


class InventoryError(Exception):
    """A requested change that the inventory's rules refuse; the message says why."""


def product_upsert(
    *, sku: str, name: str, price: Decimal, stock_quantity: int, actor: str
) -> tuple[Product, bool]:
    """Create the product, or update its name, price and units on hand. Returns (product, created)."""
    if price < 0 or stock_quantity < 0:
        raise InventoryError("price and stock_quantity cannot be negative")
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
                    f"{product.reserved_quantity} units of {sku} are held for orders; "
                    f"stock_quantity cannot go below that"
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
                f"{sku} has {product.stock_quantity} on hand, {product.reserved_quantity} held for orders: "
                f"it cannot lose {-delta}"
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
                f"{sku}: held reservations hold {actual} units, more than the {product.stock_quantity} "
                f"on hand; count the stock and set it first"
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


def reservation_reserve(*, order_id: str, lines: list[dict], caused_by: Envelope) -> Reservation:
    """Hold every line of the order, or none: InventoryReserved, or InventoryRejected with the reason.

    Idempotent per order: an order already seen gets its reservation back unchanged.
    """
    with transaction.atomic():
        existing = Reservation.objects.filter(order_id=order_id).first()
        if existing is not None:
            return existing
        wanted = Counter()
        for line in lines:
            wanted[line["sku"]] += line["quantity"]
        products = {
            p.sku: p for p in Product.objects.select_for_update().filter(sku__in=wanted).order_by("sku")
        }
        unknown = sorted(set(wanted) - set(products))
        short = sorted(
            sku for sku, quantity in wanted.items() if sku in products and products[sku].available < quantity
        )
        if unknown or short:
            reason = "unknown_product" if unknown else "out_of_stock"
            reservation = Reservation.objects.create(
                order_id=order_id, lines=lines, status=Reservation.Status.RELEASED, release_reason=reason
            )
            _publish_reservation(
                "InventoryRejected", reservation, {"reason": reason, "skus": unknown or short}, caused_by
            )
            return reservation
        for sku, quantity in sorted(wanted.items()):
            product = products[sku]
            product.reserved_quantity += quantity
            product.save(update_fields=["reserved_quantity", "updated_at"])
            _record(product, StockMovement.Kind.RESERVE, "saga", reserved_change=quantity, order_id=order_id)
        reservation = Reservation.objects.create(order_id=order_id, lines=lines)
        _publish_reservation("InventoryReserved", reservation, {"lines": lines}, caused_by)
        return reservation


def reservation_commit(*, order_id: str, caused_by: Envelope) -> Reservation | None:
    """The order is paid: its held units leave the stock. No-op unless the reservation is held."""
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().filter(order_id=order_id).first()
        if reservation is None or reservation.status != Reservation.Status.HELD:
            return reservation
        for product, quantity in _locked_lines(reservation):
            product.stock_quantity -= quantity
            product.reserved_quantity -= quantity
            product.save(update_fields=["stock_quantity", "reserved_quantity", "updated_at"])
            _record(
                product,
                StockMovement.Kind.COMMIT,
                "saga",
                stock_change=-quantity,
                reserved_change=-quantity,
                order_id=order_id,
            )
        reservation.status = Reservation.Status.COMMITTED
        reservation.version += 1
        reservation.save()
        _publish_reservation("InventoryCommitted", reservation, {}, caused_by)
        return reservation


def reservation_release(*, order_id: str, reason: str, caused_by: Envelope | None, actor: str = "saga"):
    """Give the order's units back: held ones to availability, committed ones to the stock.

    Compensation for a failed payment, a cancelled or timed-out order. No-op when already released
    or never reserved.
    """
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().filter(order_id=order_id).first()
        if reservation is None or reservation.status == Reservation.Status.RELEASED:
            return reservation
        committed = reservation.status == Reservation.Status.COMMITTED
        for product, quantity in _locked_lines(reservation):
            if committed:
                product.stock_quantity += quantity
                change = {"stock_change": quantity}
            else:
                product.reserved_quantity -= quantity
                change = {"reserved_change": -quantity}
            product.save(update_fields=["stock_quantity", "reserved_quantity", "updated_at"])
            _record(product, StockMovement.Kind.RELEASE, actor, order_id=order_id, reason=reason, **change)
        reservation.status = Reservation.Status.RELEASED
        reservation.release_reason = reason
        reservation.version += 1
        reservation.save()
        _publish_reservation("InventoryReleased", reservation, {"reason": reason}, caused_by)
        return reservation


def _locked_lines(reservation: Reservation):
    wanted = Counter()
    for line in reservation.lines:
        wanted[line["sku"]] += line["quantity"]
    products = Product.objects.select_for_update().filter(sku__in=wanted).order_by("sku")
    return [(product, wanted[product.sku]) for product in products]


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


def _publish_reservation(
    event_type: str, reservation: Reservation, payload: dict, caused_by: Envelope | None
):
    publish(
        event_type,
        aggregate_type="order",
        aggregate_id=reservation.order_id,
        sequence=reservation.version,
        payload={"order_id": reservation.order_id, **payload},
        caused_by=caused_by,
    )
