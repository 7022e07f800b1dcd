"""Event handlers of the reconciliation service: every saga event feeds the projection."""

from events.consumers import Consumer
from events.topics import event_topic
from reconciliation.services import projection


def on_saga_events(events):
    projection.saga_apply_events(events)


CONSUMER = Consumer(
    name="reconciliation",
    topics=(
        event_topic("orders"),
        event_topic("inventory"),
        event_topic("payments"),
    ),
    handlers=dict.fromkeys((*projection.STATUS_OF_EVENT, "PaymentProcessed"), on_saga_events),
    # The projection folds each order's events of a batch into one write, records each event
    # once as a step under its unique id, and takes each side's newest version: a redelivered or
    # replayed event changes nothing without an inbox row.
    one_event_per_aggregate=False,
    inbox=False,
)
