"""Event handlers of the inventory service: decode, call a service, nothing else."""

from events import commands
from events.consumers import Consumer
from events.topics import event_topic
from inventory import services


def on_order_created(envelope, payload):
    services.reservation_reserve(
        order_id=payload.order_id,
        lines=[line.model_dump(mode="json") for line in payload.lines],
        caused_by=envelope,
    )


def on_payment_processed(envelope, payload):
    if payload.status == "succeeded":
        services.reservation_commit(order_id=payload.order_id, caused_by=envelope)
    else:
        services.reservation_release(order_id=payload.order_id, reason="payment_declined", caused_by=envelope)


def on_order_cancelled(envelope, payload):
    services.reservation_release(order_id=payload.order_id, reason="order_cancelled", caused_by=envelope)


def on_order_failed(envelope, payload):
    services.reservation_release(
        order_id=payload.order_id, reason=f"order_failed:{payload.reason}", caused_by=envelope
    )


def on_release_reservation(envelope, payload):
    services.reservation_release(
        order_id=payload.order_id,
        reason=f"reconciliation: {payload.reason}",
        caused_by=envelope,
        actor=payload.requested_by,
    )


def on_commit_reservation(envelope, payload):
    services.reservation_commit(order_id=payload.order_id, caused_by=envelope)


def on_recount_reserved(envelope, payload):
    services.product_recount_reserved(sku=payload.sku, actor=payload.requested_by)


CONSUMER = Consumer(
    name="inventory",
    topics=(event_topic("orders"), event_topic("payments"), event_topic("reconciliation")),
    handlers={
        "OrderCreated": on_order_created,
        "OrderCancelled": on_order_cancelled,
        "OrderFailed": on_order_failed,
        "PaymentProcessed": on_payment_processed,
        # Reconciliation's commands.
        "ReleaseReservation": on_release_reservation,
        "CommitReservation": on_commit_reservation,
        "RecountReserved": on_recount_reserved,
        "RepublishEvents": commands.on_republish_events,
    },
)
