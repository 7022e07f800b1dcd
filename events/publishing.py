"""Publishing an event: one outbox row, written in the caller's transaction.

    with transaction.atomic():
        order = ...save the change...
        events.publishing.publish("OrderCreated", aggregate_type="order", aggregate_id=str(order.pk),
                                  sequence=order.version, payload={...}, correlation_id=str(order.pk))

Nothing here talks to Kafka: the relay (events/relay.py) publishes committed rows. A change
and its event are committed together or not at all.
"""

import json

from django.conf import settings
from django.db import transaction

from events import schemas
from events.envelope import Envelope, EnvelopeEncoder
from events.models import OutboxEvent
from events.topics import event_topic


class PublishOutsideTransaction(RuntimeError):
    """publish() was called outside transaction.atomic(): the event could outlive a rolled-back change."""


def publish(
    event_type: str,
    *,
    aggregate_type: str,
    aggregate_id: str,
    sequence: int,
    payload: dict,
    correlation_id: str | None = None,
    caused_by: Envelope | None = None,
    topic: str | None = None,
) -> Envelope:
    """Write `event_type` to the outbox, in the newest version of its schema.

    `caused_by` is the event being handled, if any: the new event inherits its correlation id
    and names it as its cause. Otherwise `correlation_id` defaults to the aggregate id.
    """
    if not transaction.get_connection().in_atomic_block:
        raise PublishOutsideTransaction(f"publish({event_type!r}) must run inside transaction.atomic()")
    version = schemas.latest_version(event_type)
    envelope = Envelope(
        event_type=event_type,
        version=version,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        sequence=sequence,
        payload=schemas.validate(event_type, version, json.loads(json.dumps(payload, cls=EnvelopeEncoder))),
        producer=settings.SERVICE_NAME,
        correlation_id=str(caused_by.correlation_id if caused_by else (correlation_id or aggregate_id)),
        causation_id=caused_by.event_id if caused_by else None,
    )
    OutboxEvent.objects.create(
        event_id=envelope.event_id,
        topic=topic or event_topic(settings.SERVICE_NAME),
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=envelope.aggregate_id,
        sequence=sequence,
        correlation_id=envelope.correlation_id,
        envelope=json.loads(envelope.to_json()),
    )
    return envelope
