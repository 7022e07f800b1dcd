"""The projection: every order's saga across the three services, built from their events.

Each event updates one side of the order (orders, inventory or payments) only when it is at
least as new as what the projection holds for that side (last write wins by the aggregate's
version), and is recorded as a step of the saga, which is how gaps in a service's sequence of
events become visible. The sweep repairs the projection from the services' own state the same
way (projection_refresh).

A batch of events costs two statements whatever its size (reconciliation/sql.py): one insert of
the steps, which says which events are new (a step per event id: a redelivered event is not,
so the projection needs no inbox), and one upsert of the sagas they touch, each order once,
merging its new events into the row without reading it first.
"""

import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from events.consumers import Event
from events.contracts.state import OrderRecord, PaymentRecord, ReservationRecord
from events.envelope import Envelope
from reconciliation import metrics, sql
from reconciliation.models import OrderSaga

TERMINAL = {"completed", "failed", "cancelled"}
SIDES = ("order", "reservation", "payment")

# event type -> (side, status it records)
STATUS_OF_EVENT = {
    "OrderCreated": ("order", "pending"),
    "OrderCompleted": ("order", "completed"),
    "OrderFailed": ("order", "failed"),
    "OrderCancelled": ("order", "cancelled"),
    "InventoryReserved": ("reservation", "held"),
    "InventoryRejected": ("reservation", "rejected"),
    "InventoryCommitted": ("reservation", "committed"),
    "InventoryReleased": ("reservation", "released"),
    "PaymentRefunded": ("payment", "refunded"),
}


def saga_apply_events(events: list[Event]) -> None:
    """Record a batch of saga events (in the consumer's transaction): their steps, then each
    order's saga once."""
    if not events:
        return
    with connection.cursor() as cursor:
        sql.STEPS_RECORD.execute(cursor, _step_columns(events))
        new = {row[0] for row in cursor.fetchall()}
        folds: dict[str, _Fold] = {}
        for event in events:
            if event.envelope.event_id in new:
                new.discard(event.envelope.event_id)  # an event twice in one batch counts once
                folds.setdefault(event.envelope.aggregate_id, _Fold()).add(event)
        if not folds:
            return
        sql.SAGAS_MERGE.execute(cursor, _saga_columns(folds))
        for order_id, status, created_at, ended_at in cursor.fetchall():
            ended = folds[order_id].ended_at
            if ended is not None and ended_at == ended and created_at is not None:
                metrics.SAGA_COMPLETION.labels(outcome=status).observe(
                    max((ended_at - created_at).total_seconds(), 0)
                )


@dataclass
class _Side:
    status: str = ""
    version: int = 0


class _Fold:
    """What one order's new events of a batch say, side by side, as SAGAS_MERGE takes it."""

    def __init__(self):
        self.sides = {side: _Side() for side in SIDES}
        self.failure_reason = ""
        self.payment_amount: Decimal | None = None
        self.created: tuple | None = None  # customer, total, currency, created_at (OrderCreated)
        self.ended_at: datetime | None = None
        self._ended_sequence = 0
        self.last_event_at: datetime | None = None

    def add(self, event: Event) -> None:
        envelope, payload = event.envelope, event.payload
        side, status = _side_and_status(envelope, payload)
        if envelope.event_type == "OrderCreated" and self.created is None:
            self.created = (payload.customer_id, payload.total_amount, payload.currency, envelope.occurred_at)
        current = self.sides[side]
        if envelope.sequence >= current.version:
            current.status, current.version = status, envelope.sequence
            if side == "order":
                self.failure_reason = payload.reason if envelope.event_type == "OrderFailed" else ""
        if envelope.event_type == "PaymentProcessed":
            self.payment_amount = payload.amount
        if (
            side == "order"
            and status in TERMINAL
            and (self.ended_at is None or envelope.sequence < self._ended_sequence)
        ):
            # The first terminal event ends the order; a later one never moves its end.
            self.ended_at, self._ended_sequence = envelope.occurred_at, envelope.sequence
        if self.last_event_at is None or envelope.occurred_at > self.last_event_at:
            self.last_event_at = envelope.occurred_at


def _step_columns(events: list[Event]) -> list[list]:
    envelopes = [event.envelope for event in events]
    return [
        [e.event_id for e in envelopes],
        [e.aggregate_id for e in envelopes],
        [e.event_type for e in envelopes],
        [e.producer for e in envelopes],
        [e.sequence for e in envelopes],
        [e.occurred_at for e in envelopes],
    ]


def _saga_columns(folds: dict[str, _Fold]) -> list[list]:
    columns: list[list] = [[] for _ in range(15)]
    for order_id, fold in folds.items():
        customer, total, currency, created_at = fold.created or ("", None, "", None)
        row = (
            order_id,
            customer,
            fold.sides["order"].status,
            fold.sides["order"].version,
            fold.failure_reason,
            total,
            currency,
            fold.sides["reservation"].status,
            fold.sides["reservation"].version,
            fold.sides["payment"].status,
            fold.sides["payment"].version,
            fold.payment_amount,
            created_at,
            fold.ended_at,
            fold.last_event_at,
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def saga_refresh(
    *,
    order_id: str,
    order: OrderRecord | None,
    reservation: ReservationRecord | None,
    payment: PaymentRecord | None,
    current: OrderSaga | None = None,
) -> bool:
    """Bring the projection up to the services' own state of an order, side by side, where the
    services' version is newer (last write wins). Returns whether anything changed.

    `current` is the saga as the caller last read it (the sweep reads every saga it audits in
    one query); None reads it here. Either way the saga is locked and compared again before
    anything is written."""
    sides = {
        side: (record, status)
        for side, record, status in (
            ("order", order, order and order.status),
            ("reservation", reservation, reservation and _reservation_status(reservation)),
            ("payment", payment, payment and _payment_status(payment)),
        )
        # a payment not yet charged, or never to be, has no event to compare
        if record is not None and not (side == "payment" and status in UNPUBLISHED_PAYMENT_STATUSES)
    }
    if not sides:
        return False
    # The sweep audits every order that changed; nearly all agree with their services. Compare
    # without a lock first, and lock (then compare again) only when something is to be written.
    if current is None:
        current = OrderSaga.objects.filter(order_id=order_id).first()
    if current is not None and not _take_newer(copy.copy(current), sides):
        return False
    with transaction.atomic():
        saga = _get_or_create_locked(order_id, timezone.now())
        changed = _take_newer(saga, sides)
        if changed:
            saga.save()
    return changed


def _take_newer(saga: OrderSaga, sides: dict) -> bool:
    """Set each side of `saga` the services hold a newer version of; whether any was set."""
    changed = False
    for side, (record, status) in sides.items():
        version = record.version
        if version > getattr(saga, f"{side}_version") or (
            version == getattr(saga, f"{side}_version") and status != getattr(saga, f"{side}_status")
        ):
            setattr(saga, f"{side}_status", status)
            setattr(saga, f"{side}_version", version)
            if side == "payment":
                saga.payment_amount = record.amount
            changed = True
        if side == "order" and saga.created_at is None:
            saga.created_at, saga.customer = record.created_at, record.customer
            saga.total_amount, saga.currency = record.total_amount, record.currency
            changed = True
    return changed


# A payment in these states has published nothing: not yet charged (pending, or charging while
# the gateway is asked), or never to be (voided, which is silent).
UNPUBLISHED_PAYMENT_STATUSES = ("pending", "charging", "voided")


def _payment_status(payment: PaymentRecord) -> str:
    """The payment's status as its last event told it: a refund in flight (refunding) is still
    the capture its PaymentProcessed announced until PaymentRefunded."""
    return "captured" if payment.status == "refunding" else payment.status


def _reservation_status(reservation: ReservationRecord) -> str:
    if reservation.status == "released" and reservation.release_reason in (
        "out_of_stock",
        "unknown_product",
    ):
        return "rejected"
    return reservation.status


def _side_and_status(envelope: Envelope, payload) -> tuple[str, str]:
    if envelope.event_type == "PaymentProcessed":
        return "payment", "captured" if payload.status == "succeeded" else "declined"
    return STATUS_OF_EVENT[envelope.event_type]


def _get_or_create_locked(order_id: str, seen_at) -> OrderSaga:
    """The order's saga, locked for this transaction; created (last event at `seen_at`) if
    reconciliation has none yet."""
    saga = OrderSaga.objects.select_for_update().filter(order_id=order_id).first()
    if saga is None:
        # ON CONFLICT DO NOTHING: another process may create it at the same moment.
        new = OrderSaga(order_id=order_id, last_event_at=seen_at)
        OrderSaga.objects.bulk_create([new], ignore_conflicts=True)
        saga = OrderSaga.objects.select_for_update().get(order_id=order_id)
    return saga
