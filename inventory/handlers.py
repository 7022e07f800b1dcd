"""Event handlers of the inventory service: decode, call a service, nothing else."""

from events import commands
from events.consumers import Consumer
from events.topics import event_topic
from inventory import services


def on_order_created(events):
    for event in events:
        services.reservation_reserve(
            order_id=event.payload.order_id,
            lines=[line.model_dump(mode="json") for line in event.payload.lines],
            caused_by=event.envelope,
        )


def on_payment_processed(events):
    for event in events:
        if event.payload.status == "succeeded":
            services.reservation_commit(order_id=event.payload.order_id, caused_by=event.envelope)
        else:
            services.reservation_release(
                order_id=event.payload.order_id, reason="payment_declined", caused_by=event.envelope
            )


def on_order_cancelled(events):
    for event in events:
        services.reservation_release(
            order_id=event.payload.order_id, reason="order_cancelled", caused_by=event.envelope
        )


def on_order_failed(events):
    for event in events:
        services.reservation_release(
            order_id=event.payload.order_id,
            reason=f"order_failed:{event.payload.reason}",
            caused_by=event.envelope,
        )


def on_release_reservation(events):
    for event in events:
        services.reservation_release(
            order_id=event.payload.order_id,
            reason=f"reconciliation: {event.payload.reason}",
            caused_by=event.envelope,
            actor=event.payload.requested_by,
        )


def on_commit_reservation(events):
    for event in events:
        services.reservation_commit(order_id=event.payload.order_id, caused_by=event.envelope)


def on_recount_reserved(events):
    for event in events:
        services.product_recount_reserved(sku=event.payload.sku, actor=event.payload.requested_by)


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
