"""Event handlers of the payments service: decode, call a service, nothing else."""

from events import commands
from events.consumers import Consumer
from events.topics import event_topic
from payments import services


def on_order_created(envelope, payload):
    services.payment_note_order(
        order_id=payload.order_id,
        amount=payload.total_amount,
        currency=payload.currency,
        card_token=payload.payment_token,
        caused_by=envelope,
    )


def on_inventory_reserved(envelope, payload):
    services.payment_note_stock_held(order_id=payload.order_id, caused_by=envelope)


def on_order_ended(envelope, payload):
    reason = getattr(payload, "reason", "") or envelope.event_type
    services.payment_settle_ended_order(order_id=payload.order_id, reason=reason, caused_by=envelope)


def on_refund_payment(envelope, payload):
    services.payment_refund_for_order(order_id=payload.order_id, reason=payload.reason, caused_by=envelope)


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
