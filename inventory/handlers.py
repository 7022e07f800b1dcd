"""Event handlers of the inventory service: decode, call a service, nothing else."""

from events import republish
from events.consumers import Consumer
from events.topics import event_topic
from inventory import services


def lock_rows(events):
    """Every reservation and product the batch may change, locked in one sorted order."""
    services.reservations_lock(
        order_ids=[e.payload.order_id for e in events if hasattr(e.payload, "order_id")],
        skus={line.sku for e in events if e.envelope.event_type == "OrderCreated" for line in e.payload.lines}
        | {e.payload.sku for e in events if e.envelope.event_type == "RecountReserved"},
    )


def on_orders_created(events):
    services.reservations_hold(
        [
            services.Hold(
                order_id=e.payload.order_id,
                lines=[line.model_dump(mode="json") for line in e.payload.lines],
                caused_by=e.envelope,
            )
            for e in events
        ]
    )


def on_order_outcomes(events):
    """Paid: ship the units. Declined, cancelled, failed, or reconciliation's command: settle."""
    services.reservations_settle([_settlement(e) for e in events])


def _settlement(event) -> services.Settle:
    payload, event_type = event.payload, event.envelope.event_type
    order_id, caused_by = payload.order_id, event.envelope
    if event_type == "PaymentProcessed":
        if payload.status == "succeeded":
            return services.Settle(order_id, commit=True, caused_by=caused_by)
        return services.Settle(order_id, commit=False, reason="payment_declined", caused_by=caused_by)
    if event_type == "CommitReservation":
        return services.Settle(order_id, commit=True, caused_by=caused_by)
    if event_type == "OrderCancelled":
        return services.Settle(order_id, commit=False, reason="order_cancelled", caused_by=caused_by)
    if event_type == "OrderFailed":
        return services.Settle(
            order_id, commit=False, reason=f"order_failed:{payload.reason}", caused_by=caused_by
        )
    # ReleaseReservation
    return services.Settle(
        order_id,
        commit=False,
        reason=f"reconciliation: {payload.reason}",
        actor=payload.requested_by,
        caused_by=caused_by,
    )


def on_recount_reserved(events):
    for event in events:
        services.product_recount_reserved(sku=event.payload.sku, actor=event.payload.requested_by)


CONSUMER = Consumer(
    name="inventory",
    topics=(event_topic("orders"), event_topic("payments"), event_topic("reconciliation")),
    handlers={
        "OrderCreated": on_orders_created,
        "OrderCancelled": on_order_outcomes,
        "OrderFailed": on_order_outcomes,
        "PaymentProcessed": on_order_outcomes,
        # Reconciliation's commands.
        "ReleaseReservation": on_order_outcomes,
        "CommitReservation": on_order_outcomes,
        "RecountReserved": on_recount_reserved,
        "RepublishEvents": republish.on_republish_events,
    },
    lock=lock_rows,
)
