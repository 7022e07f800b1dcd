"""The order state machine: the only way an order's status changes.

    pending -> completed | failed | cancelled        (terminal states go nowhere)

An illegal transition is refused (IllegalTransition) and logged, never applied. transition()
moves one order (locked by its caller); transitions_apply() moves a batch with set-based
statements (orders/sql.py), checking the same table in SQL.
"""

import logging
import uuid
from dataclasses import dataclass

from django.db import connection

from orders import sql
from orders.models import Order, OrderStatusChange

logger = logging.getLogger(__name__)

Status = Order.Status

TRANSITIONS: dict[str, set[str]] = {
    Status.PENDING: {Status.COMPLETED, Status.FAILED, Status.CANCELLED},
    Status.COMPLETED: set(),
    Status.FAILED: set(),
    Status.CANCELLED: set(),
}


class IllegalTransition(Exception):
    def __init__(self, order: Order, to: str):
        self.order, self.to = order, to
        super().__init__(f"order {order.order_id} is {order.status}; it cannot become {to}")


def transition(order: Order, to: str, *, reason: str = "") -> None:
    """Move `order` (locked by the caller) to `to`, bump its version and record the change."""
    if to not in TRANSITIONS[order.status]:
        logger.warning(
            "refused: order %s %s -> %s (%s)", order.order_id, order.status, to, reason or "no reason"
        )
        raise IllegalTransition(order, to)
    order.status = to
    order.failure_reason = reason if to == Status.FAILED else ""
    order.version += 1
    order.save(update_fields=["status", "failure_reason", "version", "updated_at"])
    OrderStatusChange.objects.create(order=order, status=to, reason=reason)


@dataclass(frozen=True)
class Move:
    """An order to move to `to` (with `reason` when it fails)."""

    order_id: str
    to: str
    reason: str = ""


def transitions_apply(moves: list[Move]) -> dict[str, int]:
    """Lock the orders (sorted), move each where the table allows it, record each change; the
    new version of each order that moved. Unknown orders and refused moves are logged."""
    wanted = {}
    for move in moves:
        try:
            wanted[str(uuid.UUID(move.order_id))] = move
        except ValueError:
            logger.warning("refused: %r is not an order id (%s)", move.order_id, move.to)
    if not wanted:
        return {}
    allowed = [(source, target) for source, targets in TRANSITIONS.items() for target in targets]
    with connection.cursor() as cursor:
        sql.ORDERS_LOCK.execute(cursor, [sorted(wanted)])
        known = {str(row[0]) for row in cursor.fetchall()}
        sql.ORDERS_TRANSITION.execute(
            cursor,
            [
                list(wanted),
                [m.to for m in wanted.values()],
                [m.reason if m.to == Status.FAILED else "" for m in wanted.values()],
                [source for source, _ in allowed],
                [target for _, target in allowed],
            ],
        )
        moved = dict(cursor.fetchall())
        if moved:
            sql.ORDERS_HISTORY.execute(
                cursor,
                [list(moved), [wanted[o].to for o in moved], [wanted[o].reason for o in moved]],
            )
    for order_id, move in wanted.items():
        if order_id not in known:
            logger.warning("event for unknown order %s", order_id)
        elif order_id not in moved:
            logger.warning("refused: order %s -> %s (%s)", order_id, move.to, move.reason or "no reason")
    return moved
