"""The registry of event types: each version's payload schema, and how an older version is
upcast to the newest.

A producer always writes the newest version. A consumer may still read older versions from the
log (written before the producer moved on): `payload_of()` validates the payload against the
schema of the version it was written in, then upcasts it step by step to the newest, so a
handler only ever sees the newest shape.

    register("OrderCreated", 1, OrderCreatedV1, producer="orders")
    register("OrderCreated", 2, OrderCreatedV2, producer="orders", upcast=add_currency)

Each event type has one producer, the service whose topic carries it: `producer_of()` is how a
consumer checks that an event came from where it may (events/processing.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

from events.envelope import Envelope


class SchemaError(ValueError):
    """A payload that does not match its event type and version: a permanent failure."""


class NewerVersion(SchemaError):
    """A version of a known event type newer than this service's code knows: written by a
    producer upgraded before this consumer. Not a fault of the event: it waits for the upgrade."""


Upcast = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class EventSchema:
    event_type: str
    version: int
    model: type[pydantic.BaseModel]
    # The one service that publishes this event type.
    producer: str
    # Turns a valid payload of version - 1 into one of this version.
    upcast: Upcast | None = None


_registry: dict[str, dict[int, EventSchema]] = {}


def register(
    event_type: str,
    version: int,
    model: type[pydantic.BaseModel],
    *,
    producer: str,
    upcast: Upcast | None = None,
):
    versions = _registry.setdefault(event_type, {})
    if version in versions:
        raise ValueError(f"{event_type} v{version} is registered twice")
    if version > 1 and upcast is None:
        raise ValueError(f"{event_type} v{version} needs an upcast from v{version - 1}")
    if any(schema.producer != producer for schema in versions.values()):
        raise ValueError(f"{event_type} is published by {producer_of(event_type)}, not {producer}")
    versions[version] = EventSchema(event_type, version, model, producer, upcast)


def latest_version(event_type: str) -> int:
    return max(_versions(event_type))


def producer_of(event_type: str) -> str:
    """The service that publishes `event_type` (SchemaError for a type no one registered)."""
    return next(iter(_versions(event_type).values())).producer


def is_registered(event_type: str) -> bool:
    return event_type in _registry


def validate(event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as its schema normalises it (JSON-ready), or SchemaError."""
    schema = _versions(event_type).get(version)
    if schema is None:
        raise SchemaError(f"{event_type} has no version {version}")
    try:
        return schema.model.model_validate(payload).model_dump(mode="json")
    except pydantic.ValidationError as exc:
        raise SchemaError(f"{event_type} v{version} payload is invalid: {exc}") from exc


def payload_of(envelope: Envelope) -> pydantic.BaseModel:
    """The envelope's payload, validated and upcast to the newest version of its type."""
    versions = _versions(envelope.event_type)
    newest = max(versions)
    if envelope.version > newest:
        raise NewerVersion(
            f"{envelope.event_type} v{envelope.version} is newer than this service knows (v{newest})"
        )
    if envelope.version == newest:  # the usual case: one validation, no round trip through a dict
        try:
            return versions[newest].model.model_validate(envelope.payload)
        except pydantic.ValidationError as exc:
            raise SchemaError(f"{envelope.event_type} v{newest} payload is invalid: {exc}") from exc
    payload = validate(envelope.event_type, envelope.version, envelope.payload)
    for version in range(envelope.version + 1, newest + 1):
        payload = validate(envelope.event_type, version, versions[version].upcast(payload))
    return versions[newest].model.model_validate(payload)


def _versions(event_type: str) -> dict[int, EventSchema]:
    try:
        return _registry[event_type]
    except KeyError:
        raise SchemaError(f"unknown event type {event_type!r}") from None
