"""Event handlers of the orders service: decode, call a service, nothing else."""

from events import commands
from events.consumers import Consumer
from events.topics import event_topic
from orders.services import catalog, saga


def on_product_updated(envelope, payload):
    catalog.catalog_apply_product(envelope=envelope, sku=payload.sku, name=payload.name, price=payload.price)


def on_inventory_rejected(envelope, payload):
    saga.order_apply_inventory_rejected(order_id=payload.order_id, reason=payload.reason, caused_by=envelope)


def on_payment_processed(envelope, payload):
    saga.order_apply_payment(
        order_id=payload.order_id, succeeded=payload.status == "succeeded", caused_by=envelope
    )


def on_fail_order(envelope, payload):
    saga.order_fail(order_id=payload.order_id, reason=payload.reason, caused_by=envelope)


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
