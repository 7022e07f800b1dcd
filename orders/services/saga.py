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

from events import pipeline
from events.envelope import Envelope
from events.publishing import publish
from orders import state
from orders.models import Order

logger = logging.getLogger(__name__)

# The stages an order's saga passes through: the orders outbox, then each service's consumers.
SAGA_STAGES = (
    pipeline.OUTBOX,
    pipeline.consumer_stage("inventory"),
    pipeline.consumer_stage("payments"),
    pipeline.consumer_stage("orders"),
)
# An order pending at most this long past its deadline is failed per run of order_fail_stuck.
FAIL_STUCK_LIMIT = 1000

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


def saga_backlog() -> float | None:
    """How far behind the saga's path is, in seconds: the sum of its stages' delays, leaving out
    a stalled stage (an outage, not a backlog). None when a measurement is stale or missing."""
    stages = pipeline.delays(list(SAGA_STAGES))
    if len(stages) < len(SAGA_STAGES) or any(stage.stale for stage in stages.values()):
        return None
    return sum(stage.seconds for stage in stages.values() if not stage.stalled)


def order_fail_stuck(*, older_than: timedelta) -> int:
    """Fail, with reason `timeout`, every order its participants had within reach for longer than
    `older_than` without answering (at most FAIL_STUCK_LIMIT a run); the other services compensate
    on OrderFailed. Returns how many were failed.

    A backlog delays orders, never fails them: an order's deadline runs from when the pipeline
    could have reached it, so it is `older_than` plus the saga's backlog (saga_backlog: the
    delays of the stages that make progress). A stalled stage adds nothing, so the orders a dead
    participant holds still time out. While the backlog is unknown (the broker or the watcher is
    down), nothing is failed."""
    backlog = saga_backlog()
    if backlog is None:
        logger.warning("orders past their deadline not failed: the pipeline's delay is not measured")
        return 0
    cutoff = timezone.now() - older_than - timedelta(seconds=backlog)
    stuck = Order.objects.filter(status=Order.Status.PENDING, created_at__lt=cutoff).values_list(
        "order_id", flat=True
    )
    stuck = [str(order_id) for order_id in stuck[:FAIL_STUCK_LIMIT]]
    failed = 0
    for start in range(0, len(stuck), 200):
        with transaction.atomic():
            failed += len(
                orders_finish(
                    [Outcome(o, Order.Status.FAILED, "timeout") for o in stuck[start : start + 200]]
                )
            )
    return failed
