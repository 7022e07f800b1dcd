"""The orders service's steps of the saga: moving an order to its outcome as the other
services report theirs, and failing orders stuck in `pending` too long.

Each step goes through the state machine. An event that finds its order already terminal (a
customer cancelled while payment was under way, say) is refused and logged by the state
machine; the compensation is the owning services' job, on OrderCancelled or OrderFailed.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from events.envelope import Envelope
from events.publishing import publish
from orders import state
from orders.models import Order

logger = logging.getLogger(__name__)

REJECTION_REASONS = {"out_of_stock": "out_of_stock", "unknown_product": "invalid_order"}


@dataclass(frozen=True)
class Outcome:
    """What another service reported of an order: it is to become `to` (failing, with `reason`)."""

    order_id: str
    to: str
    reason: str = ""
    caused_by: Envelope | None = None


def outcome_of_rejection(*, order_id: str, reason: str, caused_by: Envelope | None) -> Outcome:
    return Outcome(order_id, Order.Status.FAILED, REJECTION_REASONS.get(reason, "out_of_stock"), caused_by)


def outcome_of_payment(*, order_id: str, succeeded: bool, caused_by: Envelope | None) -> Outcome:
    if succeeded:
        return Outcome(order_id, Order.Status.COMPLETED, "", caused_by)
    return Outcome(order_id, Order.Status.FAILED, "payment_declined", caused_by)


def orders_finish(outcomes: list[Outcome]) -> list[str]:
    """Move each order to its outcome through the state machine and publish OrderCompleted or
    OrderFailed for each that moved (an order already terminal is refused and logged, its
    compensation the owning services' job); the ids of those that moved. One batch, a fixed
    handful of statements (orders/state.py transitions_apply), in the caller's transaction."""
    finished = []
    with transaction.atomic(savepoint=False):
        moved = state.transitions_apply([state.Move(o.order_id, o.to, o.reason) for o in outcomes])
        for outcome in outcomes:
            version = moved.pop(outcome.order_id, None)
            if version is None:
                continue
            completed = outcome.to == Order.Status.COMPLETED
            publish(
                "OrderCompleted" if completed else "OrderFailed",
                aggregate_type="order",
                aggregate_id=outcome.order_id,
                sequence=version,
                payload={"order_id": outcome.order_id, **({} if completed else {"reason": outcome.reason})},
                caused_by=outcome.caused_by,
            )
            finished.append(outcome.order_id)
    return finished


def order_apply_inventory_rejected(*, order_id: str, reason: str, caused_by: Envelope) -> Order | None:
    return _finish_one(outcome_of_rejection(order_id=order_id, reason=reason, caused_by=caused_by))


def order_apply_payment(*, order_id: str, succeeded: bool, caused_by: Envelope) -> Order | None:
    return _finish_one(outcome_of_payment(order_id=order_id, succeeded=succeeded, caused_by=caused_by))


def order_fail(*, order_id: str, reason: str, caused_by: Envelope | None) -> Order | None:
    """Fail a pending order (reconciliation's fix for a stuck saga); no-op once it is terminal."""
    return _finish_one(Outcome(order_id, Order.Status.FAILED, reason, caused_by))


def _finish_one(outcome: Outcome) -> Order | None:
    """One outcome (orders_finish); the order if it moved."""
    if orders_finish([outcome]):
        return Order.objects.get(order_id=outcome.order_id)
    return None


def order_fail_stuck(*, older_than: timedelta) -> int:
    """Fail, with reason `timeout`, every order pending for longer than `older_than` (at most
    1,000 a run); the other services compensate on OrderFailed. Returns how many were failed."""
    cutoff = timezone.now() - older_than
    stuck = Order.objects.filter(status=Order.Status.PENDING, created_at__lt=cutoff).values_list(
        "order_id", flat=True
    )
    stuck = [str(order_id) for order_id in stuck[:1000]]
    failed = 0
    for start in range(0, len(stuck), 200):
        with transaction.atomic():
            failed += len(
                orders_finish(
                    [Outcome(o, Order.Status.FAILED, "timeout") for o in stuck[start : start + 200]]
                )
            )
    return failed
