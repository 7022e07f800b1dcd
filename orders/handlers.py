"""Event handlers of the orders service: decode, call a service, nothing else."""

from events.consumers import Consumer
from events.topics import event_topic

CONSUMER = Consumer(
    name="orders",
    topics=(
        event_topic("inventory"),
        event_topic("payments"),
    ),
    handlers={},
)
