"""Placing and cancelling orders: the customer's side of the saga.

Placing touches only the orders database: it prices the lines from the local catalog, saves the
order `pending` and writes OrderCreated to the outbox, in one transaction, and returns at once.
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction

from events.contracts.payments import CARD_TOKENS
from events.publishing import publish
from orders import state
from orders.models import CatalogProduct, Order, OrderLine, OrderStatusChange

MAX_LINES = 50
MAX_QUANTITY = 100


@dataclass(frozen=True)
class LineIn:
    sku: str
    quantity: int


class PlacementError(Exception):
    """The order cannot be placed as asked; `errors` says what to change, field by field."""

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__(str(errors))


class IdempotencyKeyReused(Exception):
    """The key was already used with a different request."""


class RequestInFlight(Exception):
    """A request with the same key is still being processed."""


def request_fingerprint(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def order_place(
    *,
    customer,
    lines: list[LineIn],
    payment_token: str,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> tuple[Order, bool]:
    """Place the order; returns (order, created). With an idempotency key, the same key and request
    return the order first placed with it; the key with another request raises IdempotencyKeyReused."""
    if payment_token not in CARD_TOKENS:
        raise PlacementError({"payment_token": [f"unknown payment token {payment_token!r}"]})
    with transaction.atomic():
        if idempotency_key is not None:
            if not _try_lock(f"{customer.pk}:{idempotency_key}"):
                raise RequestInFlight(idempotency_key)
            existing = Order.objects.filter(customer=customer, idempotency_key=idempotency_key).first()
            if existing is not None:
                if existing.request_fingerprint != fingerprint:
                    raise IdempotencyKeyReused(idempotency_key)
                return existing, False
        prices = dict(
            CatalogProduct.objects.filter(sku__in={line.sku for line in lines}).values_list("sku", "price")
        )
        unknown = sorted({line.sku for line in lines} - set(prices))
        if unknown:
            raise PlacementError({"items": [f"unknown sku: {', '.join(unknown)}"]})
        total = sum((prices[line.sku] * line.quantity for line in lines), Decimal("0.00"))
        order = Order.objects.create(
            customer=customer,
            total_amount=total,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        order_lines = OrderLine.objects.bulk_create(
            OrderLine(order=order, sku=line.sku, quantity=line.quantity, unit_price=prices[line.sku])
            for line in lines
        )
        created = OrderStatusChange.objects.create(order=order, status=Order.Status.PENDING)
        publish(
            "OrderCreated",
            aggregate_type="order",
            aggregate_id=str(order.order_id),
            sequence=order.version,
            payload={
                "order_id": str(order.order_id),
                "customer_id": str(customer.pk),
                "lines": [
                    {"sku": x.sku, "quantity": x.quantity, "unit_price": x.unit_price} for x in order_lines
                ],
                "total_amount": order.total_amount,
                "currency": order.currency,
                "payment_token": payment_token,
            },
        )
    # What was just written, so rendering the order reads nothing back.
    order._prefetched_objects_cache = {"lines": order_lines, "history": [created]}
    return order, True


def order_cancel(*, order_id, customer=None, reason: str = "cancelled by customer") -> Order:
    """Cancel a pending order (state.IllegalTransition once it is terminal); stock and payment are
    compensated by the services that own them, on OrderCancelled."""
    with transaction.atomic():
        orders = Order.objects.select_for_update()
        if customer is not None:
            orders = orders.filter(customer=customer)
        order = orders.get(order_id=order_id)
        state.transition(order, Order.Status.CANCELLED, reason="")
        publish(
            "OrderCancelled",
            aggregate_type="order",
            aggregate_id=str(order.order_id),
            sequence=order.version,
            payload={"order_id": str(order.order_id), "reason": reason},
        )
    return order


def _try_lock(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [name])
        return cursor.fetchone()[0]
