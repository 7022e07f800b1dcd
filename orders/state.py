"""The order state machine: the only way an order's status changes.

    pending -> completed | failed | cancelled        (terminal states go nowhere)

An illegal transition is refused (IllegalTransition) and logged, never applied.
"""

import logging

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
