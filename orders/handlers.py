"""Event handlers of the orders service: decode, call a service, nothing else."""

from events import republish
from events.consumers import Consumer
from events.topics import event_topic
from orders.services import catalog, saga


def on_products_updated(events):
    catalog.catalog_apply_products(
        [
            catalog.ProductVersion(e.payload.sku, e.payload.name, e.payload.price, e.envelope.sequence)
            for e in events
        ]
    )


def on_outcomes(events):
    saga.orders_finish([_outcome(e) for e in events])


def _outcome(event) -> saga.Outcome:
    payload, caused_by = event.payload, event.envelope
    if event.envelope.event_type == "InventoryRejected":
        return saga.outcome_of_rejection(
            order_id=payload.order_id, reason=payload.reason, caused_by=caused_by
        )
    if event.envelope.event_type == "PaymentProcessed":
        return saga.outcome_of_payment(
            order_id=payload.order_id, succeeded=payload.status == "succeeded", caused_by=caused_by
        )
    # FailOrder, reconciliation's command
    return saga.Outcome(payload.order_id, "failed", payload.reason, caused_by)


CONSUMER = Consumer(
    name="orders",
    topics=(event_topic("inventory"), event_topic("payments"), event_topic("reconciliation")),
    handlers={
        "ProductUpdated": on_products_updated,
        "InventoryRejected": on_outcomes,
        "PaymentProcessed": on_outcomes,
        # Reconciliation's commands.
        "FailOrder": on_outcomes,
        "RepublishEvents": republish.on_republish_events,
    },
)
