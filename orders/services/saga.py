"""The orders service's steps of the saga: moving an order to its outcome as the other
services report theirs, and failing orders stuck in `pending` too long.

Each step goes through the state machine. An event that finds its order already terminal (a
customer cancelled while payment was under way, say) is refused and logged by the state
machine; the compensation is the owning services' job, on OrderCancelled or OrderFailed.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from events.envelope import Envelope
from events.publishing import publish
from orders import state
from orders.models import Order

logger = logging.getLogger(__name__)

REJECTION_REASONS = {"out_of_stock": "out_of_stock", "unknown_product": "invalid_order"}


def order_apply_inventory_rejected(*, order_id: str, reason: str, caused_by: Envelope) -> Order | None:
    return _finish(order_id, Order.Status.FAILED, REJECTION_REASONS.get(reason, "out_of_stock"), caused_by)


def order_apply_payment(*, order_id: str, succeeded: bool, caused_by: Envelope) -> Order | None:
    if succeeded:
        return _finish(order_id, Order.Status.COMPLETED, "", caused_by)
    return _finish(order_id, Order.Status.FAILED, "payment_declined", caused_by)


def order_fail(*, order_id: str, reason: str, caused_by: Envelope | None) -> Order | None:
    """Fail a pending order (reconciliation's fix for a stuck saga); no-op once it is terminal."""
    return _finish(order_id, Order.Status.FAILED, reason, caused_by)


def order_fail_stuck(*, older_than: timedelta) -> int:
    """Fail, with reason `timeout`, every order pending for longer than `older_than`; the other
    services compensate on OrderFailed. Returns how many were failed."""
    cutoff = timezone.now() - older_than
    stuck = Order.objects.filter(status=Order.Status.PENDING, created_at__lt=cutoff).values_list(
        "order_id", flat=True
    )
    failed = 0
    for order_id in list(stuck[:1000]):
        if _finish(str(order_id), Order.Status.FAILED, "timeout", None, skip_locked=True):
            failed += 1
    return failed


def _finish(
    order_id: str, to: str, reason: str, caused_by: Envelope | None, skip_locked=False
) -> Order | None:
    with transaction.atomic():
        order = Order.objects.select_for_update(skip_locked=skip_locked).filter(order_id=order_id).first()
        if order is None:
            logger.warning("event for unknown order %s", order_id)
            return None
        try:
            state.transition(order, to, reason=reason)
        except state.IllegalTransition:
            return None
        event_type, payload = (
            ("OrderCompleted", {}) if to == Order.Status.COMPLETED else ("OrderFailed", {"reason": reason})
        )
        publish(
            event_type,
            aggregate_type="order",
            aggregate_id=str(order.order_id),
            sequence=order.version,
            payload={"order_id": str(order.order_id), **payload},
            caused_by=caused_by,
        )
    return order
