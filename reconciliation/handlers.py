"""Event handlers of the reconciliation service: decode, call a service, nothing else."""

from events.consumers import Consumer
from events.topics import event_topic

CONSUMER = Consumer(
    name="reconciliation",
    topics=(
        event_topic("orders"),
        event_topic("inventory"),
        event_topic("payments"),
    ),
    handlers={},
)
