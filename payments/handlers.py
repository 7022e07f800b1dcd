"""Event handlers of the payments service: decode, call a service, nothing else."""

from events import commands
from events.consumers import Consumer
from events.topics import event_topic
from payments import services


def on_order_created(events):
    for event in events:
        services.payment_note_order(
            order_id=event.payload.order_id,
            amount=event.payload.total_amount,
            currency=event.payload.currency,
            card_token=event.payload.payment_token,
            caused_by=event.envelope,
        )


def on_inventory_reserved(events):
    for event in events:
        services.payment_note_stock_held(order_id=event.payload.order_id, caused_by=event.envelope)


def on_order_ended(events):
    for event in events:
        reason = getattr(event.payload, "reason", "") or event.envelope.event_type
        services.payment_settle_ended_order(
            order_id=event.payload.order_id, reason=reason, caused_by=event.envelope
        )


def on_refund_payment(events):
    for event in events:
        services.payment_refund_for_order(
            order_id=event.payload.order_id, reason=event.payload.reason, caused_by=event.envelope
        )


CONSUMER = Consumer(
    name="payments",
    topics=(event_topic("orders"), event_topic("inventory"), event_topic("reconciliation")),
    handlers={
        "OrderCreated": on_order_created,
        "OrderCancelled": on_order_ended,
        "OrderFailed": on_order_ended,
        "InventoryReserved": on_inventory_reserved,
        # Reconciliation's commands.
        "RefundPayment": on_refund_payment,
        "RepublishEvents": commands.on_republish_events,
    },
)
