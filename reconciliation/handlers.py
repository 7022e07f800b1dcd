"""Event handlers of the reconciliation service: every saga event feeds the projection."""

from events.consumers import Consumer
from events.topics import event_topic
from reconciliation.services import projection


def on_saga_events(events):
    for event in events:
        projection.saga_apply_event(envelope=event.envelope, payload=event.payload)


CONSUMER = Consumer(
    name="reconciliation",
    topics=(
        event_topic("orders"),
        event_topic("inventory"),
        event_topic("payments"),
    ),
    handlers=dict.fromkeys((*projection.STATUS_OF_EVENT, "PaymentProcessed"), on_saga_events),
)
