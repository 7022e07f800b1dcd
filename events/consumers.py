"""Which handler takes which event type, per consumer: the registry the `consume` command runs.

Each service declares its consumers in its own `handlers.py`:

    CONSUMER = Consumer(
        name="inventory",
        topics=(event_topic("orders"),),
        handlers={"OrderCreated": on_orders_created},
        lock=lock_rows,
    )

and names them in its settings: EVENT_CONSUMERS = ["inventory.handlers.CONSUMER"]. The name is
the Kafka consumer group, the inbox's and the dead letters' `consumer`.

A handler is a batch handler: `handler(events)` takes a list of Event (envelope and validated
payload, in the newest version of its schema) and applies them all, with set-based statements,
inside the transaction that records them in the inbox (events/processing.py). It gets the events
of one poll batch that are new (the inbox dropped redeliveries), in the order they were read;
types that share a handler come to it together. With one_event_per_aggregate (the default) a
call holds at most one event of each aggregate: a batch holding several events of one aggregate
is applied in rounds, each seeing what the one before wrote, so handlers never order an
aggregate's events themselves. Rows are locked by `lock`, once per batch, before any handler
runs, in one sorted order, so that two workers of one service never deadlock.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import pydantic
from django.conf import settings
from django.utils.module_loading import import_string

from events.envelope import Envelope


@dataclass(frozen=True)
class Event:
    """One event as a handler receives it."""

    envelope: Envelope
    # Validated against its schema version and upcast to the newest.
    payload: pydantic.BaseModel


Handler = Callable[[list[Event]], None]


class Handoff(Protocol):
    """Work a consumer's handlers hand off to finish after their batch, outside the loop: calls
    to something slow, whose intents the batch committed (payments/dispatch.py). The loop pauses
    its partitions while full() says so, and close()s it when it stops."""

    def full(self) -> bool: ...

    def close(self, timeout: float) -> None: ...


@dataclass(frozen=True)
class Consumer:
    name: str
    topics: tuple[str, ...]
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    # Called with all of a batch's new events before any handler: takes the batch's row locks,
    # every one of them, in one deterministic order (e.g. sorted by primary key).
    lock: Callable[[list[Event]], None] | None = None
    # False for handlers that fold several events of an aggregate into one write themselves.
    one_event_per_aggregate: bool = True
    # False where the handlers' own writes make a redelivered event change nothing (each event
    # recorded under its unique id, last write wins by version): no inbox row is written.
    inbox: bool = True
    # Called once by the consumer's loop as it starts: the process's Handoff, if the handlers
    # hand work off (they find it there; outside the loop, they do that work inline).
    handoff: Callable[[], Handoff] | None = None


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
