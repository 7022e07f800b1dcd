"""Which handler takes which event type, per consumer: the registry the `consume` command runs.

Each service declares its consumers in its own `handlers.py`:

    CONSUMER = Consumer(
        name="inventory",
        topics=(event_topic("orders"),),
        handlers={"OrderCreated": handle_order_created},
    )

and names them in its settings: EVENT_CONSUMERS = ["inventory.handlers.CONSUMER"]. The name is
the Kafka consumer group, the inbox's and the dead letters' `consumer`. A handler is a plain
function `handler(envelope, payload)`: `payload` is the validated payload in the newest version
of its schema. It runs inside the transaction that records the event in the inbox.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pydantic
from django.conf import settings
from django.utils.module_loading import import_string

from events.envelope import Envelope

Handler = Callable[[Envelope, pydantic.BaseModel], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    topics: tuple[str, ...]
    handlers: Mapping[str, Handler] = field(default_factory=dict)


def consumers() -> dict[str, Consumer]:
    """This service's consumers, by name."""
    found = [import_string(path) for path in settings.EVENT_CONSUMERS]
    return {consumer.name: consumer for consumer in found}


def consumer_get(name: str | None = None) -> Consumer:
    """One consumer of this service: the one named, or the only one."""
    registry = consumers()
    if name is None and len(registry) == 1:
        return next(iter(registry.values()))
    if name not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise LookupError(
            f"no consumer {name!r} in the {settings.SERVICE_NAME} service (its consumers: {known})"
        )
    return registry[name]
