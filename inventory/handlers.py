"""Event handlers of the inventory service: decode, call a service, nothing else."""

from events.consumers import Consumer
from events.topics import event_topic

CONSUMER = Consumer(
    name="inventory",
    topics=(
        event_topic("orders"),
        event_topic("payments"),
    ),
    handlers={},
)
