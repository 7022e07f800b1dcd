"""The projection: every order's saga across the three services, built from their events.

Each event updates one side of the order (orders, inventory or payments) only when it is at
least as new as what the projection holds for that side (last write wins by the aggregate's
version), and is recorded as a step of the saga, which is how gaps in a service's sequence of
events become visible. The sweep repairs the projection from the services' own state the same
way (projection_refresh).
"""

from django.db import transaction
from django.utils import timezone

from events.envelope import Envelope
from reconciliation import metrics
from reconciliation.models import OrderSaga, SagaStep

TERMINAL = {"completed", "failed", "cancelled"}

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


def saga_apply_event(*, envelope: Envelope, payload) -> OrderSaga:
    """Record one event of an order's saga (runs in the consumer's transaction)."""
    saga = _locked(envelope.aggregate_id, envelope.occurred_at)
    side, status = _side_and_status(envelope, payload)
    if envelope.event_type == "OrderCreated" and saga.created_at is None:
        # The order's facts, whenever OrderCreated arrives (a re-driven one may come last).
        saga.customer = payload.customer_id
        saga.total_amount, saga.currency = payload.total_amount, payload.currency
        saga.created_at = envelope.occurred_at
    if envelope.sequence >= getattr(saga, f"{side}_version"):
        setattr(saga, f"{side}_status", status)
        setattr(saga, f"{side}_version", envelope.sequence)
        if envelope.event_type == "OrderFailed":
            saga.failure_reason = payload.reason
        elif envelope.event_type == "PaymentProcessed":
            saga.payment_amount = payload.amount
        if side == "order" and status in TERMINAL and saga.ended_at is None:
            saga.ended_at = envelope.occurred_at
            if saga.created_at:
                metrics.SAGA_COMPLETION.labels(outcome=status).observe(
                    max((saga.ended_at - saga.created_at).total_seconds(), 0)
                )
    saga.last_event_at = max(saga.last_event_at, envelope.occurred_at)
    saga.save()
    # INSERT ... ON CONFLICT DO NOTHING: a step already recorded (the sweep's repair, a replay)
    # stays as it is, without a lookup first or a savepoint.
    SagaStep.objects.bulk_create(
        [
            SagaStep(
                event_id=envelope.event_id,
                saga=saga,
                event_type=envelope.event_type,
                producer=envelope.producer,
                sequence=envelope.sequence,
                occurred_at=envelope.occurred_at,
            )
        ],
        ignore_conflicts=True,
    )
    return saga


def saga_refresh(
    *, order_id: str, order: dict | None, reservation: dict | None, payment: dict | None
) -> bool:
    """Bring the projection up to the services' own state of an order, side by side, where the
    services' version is newer (last write wins). Returns whether anything changed."""
    sides = {
        side: (record, status)
        for side, record, status in (
            ("order", order, order and order["status"]),
            ("reservation", reservation, reservation and _reservation_status(reservation)),
            ("payment", payment, payment and payment["status"]),
        )
        # a payment not yet charged, or never to be, has no event to compare
        if record is not None and not (side == "payment" and status in ("pending", "voided"))
    }
    if not sides:
        return False
    # The sweep audits every order that changed; nearly all agree with their services. Compare
    # without a lock first, and lock (then compare again) only when something is to be written.
    current = OrderSaga.objects.filter(order_id=order_id).first()
    if current is not None and not _take_newer(current, sides):
        return False
    with transaction.atomic():
        saga = OrderSaga.objects.select_for_update().filter(order_id=order_id).first()
        if saga is None:
            saga = _locked(order_id, timezone.now())
        changed = _take_newer(saga, sides)
        if changed:
            saga.save()
    return changed


def _take_newer(saga: OrderSaga, sides: dict) -> bool:
    """Set each side of `saga` the services hold a newer version of; whether any was set."""
    changed = False
    for side, (record, status) in sides.items():
        version = record["version"]
        if version > getattr(saga, f"{side}_version") or (
            version == getattr(saga, f"{side}_version") and status != getattr(saga, f"{side}_status")
        ):
            setattr(saga, f"{side}_status", status)
            setattr(saga, f"{side}_version", version)
            if side == "payment":
                saga.payment_amount = record["amount"]
            changed = True
        if side == "order" and saga.created_at is None:
            saga.created_at, saga.customer = record["created_at"], record["customer"]
            saga.total_amount, saga.currency = record["total_amount"], record["currency"]
            changed = True
    return changed


def _reservation_status(reservation: dict) -> str:
    if reservation["status"] == "released" and reservation["release_reason"] in (
        "out_of_stock",
        "unknown_product",
    ):
        return "rejected"
    return reservation["status"]


def _side_and_status(envelope: Envelope, payload) -> tuple[str, str]:
    if envelope.event_type == "PaymentProcessed":
        return "payment", "captured" if payload.status == "succeeded" else "declined"
    return STATUS_OF_EVENT[envelope.event_type]


def _locked(order_id: str, seen_at) -> OrderSaga:
    saga = OrderSaga.objects.select_for_update().filter(order_id=order_id).first()
    if saga is None:
        # ON CONFLICT DO NOTHING: another process may create it at the same moment.
        new = OrderSaga(order_id=order_id, last_event_at=seen_at)
        OrderSaga.objects.bulk_create([new], ignore_conflicts=True)
        saga = OrderSaga.objects.select_for_update().get(order_id=order_id)
    return saga
