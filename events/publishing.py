"""Publishing an event: one outbox row, written in the caller's transaction.

    with transaction.atomic():
        order = ...save the change...
        events.publishing.publish("OrderCreated", aggregate_type="order", aggregate_id=str(order.pk),
                                  sequence=order.version, payload={...}, correlation_id=str(order.pk))

Nothing here talks to Kafka: the relay (events/relay.py) publishes committed rows. A change
and its event are committed together or not at all.

A consumer applying a batch collects what its handlers publish (outbox_batch()) and writes it
with one multi-row INSERT at the end of the batch, in the batch's transaction; outside such a
block each publish() writes its row at once.
"""

import contextlib
import contextvars
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from events import schemas
from events.envelope import Envelope
from events.prepared import Statement
from events.topics import event_topic


class PublishOutsideTransaction(RuntimeError):
    """publish() was called outside transaction.atomic(): the event could outlive a rolled-back change."""


@dataclass(frozen=True)
class OutboxRow:
    """One outbox row as it is written: the envelope's columns and its JSON, the message's value."""

    event_id: str
    topic: str
    event_type: str
    event_version: int
    aggregate_type: str
    aggregate_id: str
    sequence: int
    correlation_id: str
    body: str


# The rows to write, column by column (arrays, in the order the events were published).
OUTBOX_ROWS = """
    unnest(%s::uuid[], %s::text[], %s::text[], %s::smallint[], %s::text[], %s::text[], %s::bigint[],
           %s::text[], %s::text[]) WITH ORDINALITY
        AS r(event_id, topic, event_type, event_version, aggregate_type, aggregate_id, sequence,
             correlation_id, body, n)
"""


def outbox_insert_sql(*, only_if: str = "TRUE") -> str:
    """The INSERT of outbox rows: its parameters are outbox_columns(rows). `only_if` is a SQL
    condition (constant text, never values) for a caller that writes the rows in a statement of
    its own only when another part of it took effect (order placement: a new order)."""
    return f"""
        INSERT INTO events_outboxevent
            (event_id, topic, event_type, event_version, aggregate_type, aggregate_id, sequence,
             correlation_id, body, created_at, attempts, last_error)
        SELECT r.event_id, r.topic, r.event_type, r.event_version, r.aggregate_type, r.aggregate_id,
               r.sequence, r.correlation_id, r.body, now(), 0, ''
        FROM {OUTBOX_ROWS}
        WHERE {only_if}
        ORDER BY r.n
    """


OUTBOX_INSERT = Statement("events_outbox_insert", outbox_insert_sql())

_collecting: contextvars.ContextVar[list[OutboxRow] | None] = contextvars.ContextVar(
    "events_outbox_rows", default=None
)


def publish(event_type: str, **event) -> Envelope:
    """Write `event_type` to the outbox, in the newest version of its schema; `event` is
    outbox_row()'s keyword arguments (aggregate_type, aggregate_id, sequence, payload, and
    correlation_id, caused_by, topic if need be)."""
    if not transaction.get_connection().in_atomic_block:
        raise PublishOutsideTransaction(f"publish({event_type!r}) must run inside transaction.atomic()")
    envelope, row = outbox_row(event_type, **event)
    collected = _collecting.get()
    if collected is not None:
        collected.append(row)
    else:
        outbox_insert([row])
    return envelope


def outbox_row(
    event_type: str,
    *,
    aggregate_type: str,
    aggregate_id: str,
    sequence: int,
    payload: dict,
    correlation_id: str | None = None,
    caused_by: Envelope | None = None,
    topic: str | None = None,
) -> tuple[Envelope, OutboxRow]:
    """The event's envelope and the outbox row that carries it, validated, not yet written: for
    publish(), and for a caller that writes the row in a statement of its own
    (outbox_insert_sql(), outbox_columns()).

    `caused_by` is the event being handled, if any: the new event inherits its correlation id
    and names it as its cause. Otherwise `correlation_id` defaults to the aggregate id.
    """
    version = schemas.latest_version(event_type)
    envelope = Envelope(
        event_type=event_type,
        version=version,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        sequence=sequence,
        # Validated as given (decimals, strings): the schema's JSON dump is what is written.
        payload=schemas.validate(event_type, version, payload),
        producer=settings.SERVICE_NAME,
        correlation_id=str(caused_by.correlation_id if caused_by else (correlation_id or aggregate_id)),
        causation_id=caused_by.event_id if caused_by else None,
    )
    row = OutboxRow(
        event_id=envelope.event_id,
        topic=topic or event_topic(settings.SERVICE_NAME),
        event_type=event_type,
        event_version=version,
        aggregate_type=aggregate_type,
        aggregate_id=envelope.aggregate_id,
        sequence=sequence,
        correlation_id=envelope.correlation_id,
        body=envelope.to_json().decode(),
    )
    return envelope, row


def outbox_columns(rows: list[OutboxRow]) -> list[list]:
    """The parameters of outbox_insert_sql() for `rows`: one list per column."""
    return [
        [row.event_id for row in rows],
        [row.topic for row in rows],
        [row.event_type for row in rows],
        [row.event_version for row in rows],
        [row.aggregate_type for row in rows],
        [row.aggregate_id for row in rows],
        [row.sequence for row in rows],
        [row.correlation_id for row in rows],
        [row.body for row in rows],
    ]


def outbox_insert(rows: list[OutboxRow]) -> None:
    """Write `rows` to the outbox with one statement, in their order (the relay's order)."""
    if rows:
        with connection.cursor() as cursor:
            OUTBOX_INSERT.execute(cursor, outbox_columns(rows))


@contextlib.contextmanager
def outbox_batch():
    """Collect what is published inside the block and write it with one INSERT as the block ends
    (inside the caller's transaction; nothing is written when the block raises)."""
    rows: list[OutboxRow] = []
    token = _collecting.set(rows)
    try:
        yield
    finally:
        _collecting.reset(token)
    outbox_insert(rows)
