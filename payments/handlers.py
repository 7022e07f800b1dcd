"""Event handlers of the payments service: decode, call a service, nothing else."""

from events.consumers import Consumer
from events.topics import event_topic

CONSUMER = Consumer(
    name="payments",
    topics=(
        event_topic("orders"),
        event_topic("inventory"),
    ),
    handlers={},
)
