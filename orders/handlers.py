"""Event handlers of the orders service: decode, call a service, nothing else."""

from events import commands
from events.consumers import Consumer
from events.topics import event_topic
from orders.services import catalog, saga


def on_product_updated(events):
    for event in events:
        payload = event.payload
        catalog.catalog_apply_product(
            envelope=event.envelope, sku=payload.sku, name=payload.name, price=payload.price
        )


def on_inventory_rejected(events):
    for event in events:
        saga.order_apply_inventory_rejected(
            order_id=event.payload.order_id, reason=event.payload.reason, caused_by=event.envelope
        )


def on_payment_processed(events):
    for event in events:
        saga.order_apply_payment(
            order_id=event.payload.order_id,
            succeeded=event.payload.status == "succeeded",
            caused_by=event.envelope,
        )


def on_fail_order(events):
    for event in events:
        saga.order_fail(
            order_id=event.payload.order_id, reason=event.payload.reason, caused_by=event.envelope
        )


CONSUMER = Consumer(
    name="orders",
    topics=(event_topic("inventory"), event_topic("payments"), event_topic("reconciliation")),
    handlers={
        "ProductUpdated": on_product_updated,
        "InventoryRejected": on_inventory_rejected,
        "PaymentProcessed": on_payment_processed,
        # Reconciliation's commands.
        "FailOrder": on_fail_order,
        "RepublishEvents": commands.on_republish_events,
    },
)
