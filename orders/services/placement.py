"""Placing and cancelling orders: the customer's side of the saga.

Placing touches only the orders database: it prices the lines from the local catalog, then
writes the order `pending`, its lines, its history and OrderCreated's outbox row with one
statement (orders/sql.py; one round trip, atomic on its own), and returns at once. An
idempotency key the customer already used writes nothing and returns the order first placed
with it; a second request with the key while the first is being written waits for it (the
unique index) and gets the same order.
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events.contracts.payments import CARD_TOKENS
from events.ids import new_id
from events.publishing import OutboxRow, outbox_columns, outbox_row, publish
from orders import selectors, sql, state
from orders.models import Order, OrderLine, OrderStatusChange

MAX_LINES = 50
MAX_QUANTITY = 100


@dataclass(frozen=True)
class LineIn:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PlacedOrder:
    """An order as placement left it, with its lines and history, so that answering the customer
    reads nothing back."""

    order: Order
    lines: list[OrderLine]
    history: list[OrderStatusChange]
    # False when an idempotency key returned the order first placed with it.
    created: bool


class PlacementError(Exception):
    """The order cannot be placed as asked; `errors` says what to change, field by field."""

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__(str(errors))


class IdempotencyKeyReused(Exception):
    """The key was already used with a different request."""


def request_fingerprint(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def order_place(
    *,
    customer,
    lines: list[LineIn],
    payment_token: str,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> PlacedOrder:
    """Place the order. With an idempotency key, the same key and request return the order first
    placed with it; the key with another request raises IdempotencyKeyReused."""
    prices = _prices(lines, payment_token)
    total = _total(lines, prices)
    order = Order(
        order_id=new_id(),
        customer=customer,
        status=Order.Status.PENDING,
        total_amount=total,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    order.created_at = order.updated_at = timezone.now()
    order_lines = [
        OrderLine(order=order, sku=line.sku, quantity=line.quantity, unit_price=prices[line.sku])
        for line in lines
    ]
    if not _insert(order, order_lines, _order_created(order, order_lines, payment_token)):
        return _placed_before(customer, idempotency_key, fingerprint)
    order = _as_loaded(order)
    history = [OrderStatusChange(order=order, status=Order.Status.PENDING, reason="", at=order.created_at)]
    return PlacedOrder(order, order_lines, history, created=True)


def _prices(lines: list[LineIn], payment_token: str) -> dict[str, Decimal]:
    """Each line's unit price from the catalog; PlacementError for an unknown card or product."""
    if payment_token not in CARD_TOKENS:
        raise PlacementError({"payment_token": [f"unknown payment token {payment_token!r}"]})
    prices = selectors.catalog_prices({line.sku for line in lines})
    unknown = sorted({line.sku for line in lines} - set(prices))
    if unknown:
        raise PlacementError({"items": [f"unknown sku: {', '.join(unknown)}"]})
    return prices


def _total(lines: list[LineIn], prices: dict[str, Decimal]) -> Decimal:
    """The order's total; PlacementError when no card payment can be of that amount."""
    total = sum((prices[line.sku] * line.quantity for line in lines), Decimal("0.00"))
    low, high = settings.ORDERS_MIN_TOTAL, settings.ORDERS_MAX_TOTAL
    if not low <= total <= high:
        raise PlacementError(
            {
                "items": [
                    f"the order's total, {total} EUR, must be from {low} to {high} EUR to be paid by card"
                ]
            }
        )
    return total


def _order_created(order: Order, order_lines: list[OrderLine], payment_token: str) -> OutboxRow:
    """The outbox row of the order's OrderCreated, not written yet."""
    _, row = outbox_row(
        "OrderCreated",
        aggregate_type="order",
        aggregate_id=str(order.order_id),
        sequence=order.version,
        payload={
            "order_id": str(order.order_id),
            "customer_id": str(order.customer_id),
            "lines": [
                {"sku": x.sku, "quantity": x.quantity, "unit_price": x.unit_price} for x in order_lines
            ],
            "total_amount": order.total_amount,
            "currency": order.currency,
            "payment_token": payment_token,
        },
    )
    return row


def _insert(order: Order, order_lines: list[OrderLine], created_event: OutboxRow) -> bool:
    """The order, its lines, its first history row and its event in one statement
    (sql.ORDER_PLACE); False when the customer's idempotency key already has an order."""
    at = order.created_at
    with connection.cursor() as cursor:
        sql.ORDER_PLACE.execute(
            cursor,
            [
                order.order_id,
                order.customer_id,
                order.total_amount,
                order.currency,
                order.idempotency_key,
                order.request_fingerprint,
                at,
                at,
                [x.sku for x in order_lines],
                [x.quantity for x in order_lines],
                [x.unit_price for x in order_lines],
                at,
                *outbox_columns([created_event]),
            ],
        )
        return cursor.fetchone() is not None


_ORDER_COLUMNS = [field.attname for field in Order._meta.concrete_fields]


def _as_loaded(order: Order) -> Order:
    """The order as Django would have loaded it from the database it was just written to (its
    values, no query), so that a later save() updates the row instead of inserting it again."""
    loaded = Order.from_db(connection.alias, _ORDER_COLUMNS, [getattr(order, n) for n in _ORDER_COLUMNS])
    loaded.customer = order.customer  # already at hand: no query to read it again
    return loaded


def _placed_before(customer, idempotency_key: str, fingerprint: str) -> PlacedOrder:
    existing = selectors.order_get_by_idempotency_key(customer=customer, idempotency_key=idempotency_key)
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(idempotency_key)
    return PlacedOrder(existing, list(existing.lines.all()), list(existing.history.all()), created=False)


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
