"""Applying one message to one consumer: exactly once in effect, under at-least-once delivery.

For each message, in order:
1. If an earlier event of the same aggregate (the message key) is dead-lettered for this
   consumer, the message is parked behind it: not applied out of order.
2. Unreadable messages and payloads that fail their schema are dead-lettered at once.
3. Otherwise, in one transaction: record the event in the inbox (consumer + event id, unique)
   and run the handler. A redelivered event finds itself in the inbox and changes nothing.
4. A handler that raises is retried with back-off; if it still fails, the message is
   dead-lettered (table and dead-letter topic) and the consumer carries on.

process_batch() applies a whole batch in one transaction instead (one commit for all of it, the
consumer's fast path under load); if any handler raises, that transaction rolls back, nothing of
the batch is applied, and the caller applies the messages one by one with process().

A database that does not answer is not the message's fault: InfrastructureError goes up to the
loop, which stops, backs off and comes back to the same message.
"""

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

import tenacity
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from events import logcontext, metrics, schemas
from events.consumers import Consumer
from events.envelope import Envelope, EnvelopeError
from events.models import DeadLetter

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"  # no handler for this event type in this consumer
    PARKED = "parked"
    DEAD = "dead"


class InfrastructureError(Exception):
    """The database did not answer; the message was not applied and must be tried again."""


@dataclass(frozen=True)
class Message:
    """A Kafka message as the consumer read it (or as a dead letter stored it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def aggregate_id(self) -> str:
        return self.key.decode(errors="replace") if self.key else ""

    @classmethod
    def from_kafka(cls, message) -> "Message":
        return cls(message.topic(), message.partition(), message.offset(), message.key(), message.value())


def process(
    consumer: Consumer, message: Message, *, blocked: bool | None = None, in_batch: bool = False
) -> Outcome:
    """Apply `message` to `consumer`; see the module's docstring.

    `blocked` says whether the message's aggregate has an open dead letter (the caller may have
    looked that up for a whole batch); None looks it up here. Retrying a dead letter passes False.
    `in_batch`: inside process_batch()'s transaction, where a failing handler aborts the batch.
    """
    with logcontext.bind(consumer=consumer.name, topic=message.topic, offset=message.offset):
        if blocked is None:
            blocked = blocked_aggregates(consumer, [message.aggregate_id]) != set()
        if blocked and _park(consumer, message):
            return Outcome.PARKED
        try:
            envelope = Envelope.from_json(message.value)
        except EnvelopeError as exc:
            dead_letter(consumer, message, DeadLetter.Status.DEAD, f"unreadable message: {exc}", 1)
            return Outcome.DEAD
        with logcontext.bind(event_id=envelope.event_id, correlation_id=envelope.correlation_id):
            return (_apply_in_batch if in_batch else _apply)(consumer, message, envelope)


class BatchAborted(Exception):
    """A handler raised inside process_batch(): its transaction was rolled back."""


def process_batch(consumer: Consumer, messages: list[Message], *, blocked: set[str]) -> list[Outcome]:
    """Apply `messages` in order, in one transaction, each exactly as process() would; the
    outcomes in order. Raises BatchAborted (nothing applied) when a handler raised, and
    InfrastructureError (nothing applied) when the database did not answer."""
    outcomes = []
    try:
        with transaction.atomic():
            for message in messages:
                outcome = process(consumer, message, blocked=message.aggregate_id in blocked, in_batch=True)
                if outcome in (Outcome.DEAD, Outcome.PARKED):
                    blocked.add(message.aggregate_id)
                outcomes.append(outcome)
    except (OperationalError, InterfaceError) as exc:
        raise InfrastructureError(str(exc)) from exc
    return outcomes


def blocked_aggregates(consumer: Consumer, aggregate_ids: list[str]) -> set[str]:
    """The aggregates among `aggregate_ids` that have an open dead letter in `consumer`."""
    try:
        return set(
            DeadLetter.objects.filter(
                consumer=consumer.name,
                aggregate_id__in=set(aggregate_ids),
                status__in=[DeadLetter.Status.DEAD, DeadLetter.Status.PARKED],
            ).values_list("aggregate_id", flat=True)
        )
    except (OperationalError, InterfaceError) as exc:
        raise InfrastructureError(str(exc)) from exc


def aggregate_lock(consumer: Consumer, aggregate_id: str) -> None:
    """Serialise parking and releasing for one aggregate of one consumer (inside a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{consumer.name}:{aggregate_id}"])


def _park(consumer: Consumer, message: Message) -> bool:
    """Park `message` if its aggregate still has an open dead letter; False if that was released."""
    try:
        with transaction.atomic():
            aggregate_lock(consumer, message.aggregate_id)
            if not blocked_aggregates(consumer, [message.aggregate_id]):
                return False
            if _letter_of(consumer, message).filter(
                status__in=[DeadLetter.Status.DEAD, DeadLetter.Status.PARKED]
            ):
                return True  # redelivered (the offset was never committed): it keeps its place in line
            try:  # for the people who will look at it: what it is, if it can be read
                envelope = Envelope.from_json(message.value)
            except EnvelopeError:
                envelope = None
            reason = "parked behind an earlier dead letter of the same aggregate"
            dead_letter(consumer, message, DeadLetter.Status.PARKED, reason, 0, envelope)
            return True
    except (OperationalError, InterfaceError) as exc:
        raise InfrastructureError(str(exc)) from exc


def _letter_of(consumer: Consumer, message: Message):
    return DeadLetter.objects.filter(
        consumer=consumer.name, topic=message.topic, partition=message.partition, offset=message.offset
    )


def _handler_and_payload(consumer: Consumer, message: Message, envelope: Envelope):
    """The handler and the validated payload, or the outcome when there is nothing to apply."""
    handler = consumer.handlers.get(envelope.event_type)
    if handler is None:
        return Outcome.SKIPPED
    try:
        return handler, schemas.payload_of(envelope)
    except schemas.SchemaError as exc:
        dead_letter(consumer, message, DeadLetter.Status.DEAD, str(exc), 1, envelope)
        return Outcome.DEAD


def _apply_in_batch(consumer: Consumer, message: Message, envelope: Envelope) -> Outcome:
    prepared = _handler_and_payload(consumer, message, envelope)
    if isinstance(prepared, Outcome):
        return prepared
    handler, payload = prepared
    try:
        # No savepoint: a handler that raises aborts the whole batch, which is then applied
        # message by message, with _apply()'s retries and dead-lettering.
        return _apply_once(consumer, message, envelope, payload, handler, savepoint=False)
    except InfrastructureError:
        raise
    except Exception as exc:
        raise BatchAborted(f"{envelope.event_type} {envelope.event_id}: {type(exc).__name__}: {exc}") from exc


def _apply(consumer: Consumer, message: Message, envelope: Envelope) -> Outcome:
    prepared = _handler_and_payload(consumer, message, envelope)
    if isinstance(prepared, Outcome):
        return prepared
    handler, payload = prepared

    attempts = 0
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.EVENTS_HANDLER_ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=settings.EVENTS_HANDLER_BACKOFF_SECONDS, max=5),
        retry=tenacity.retry_if_not_exception_type(InfrastructureError),
        before_sleep=lambda state: metrics.HANDLER_RETRIES.labels(consumer.name, envelope.event_type).inc(),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                return _apply_once(consumer, message, envelope, payload, handler)
    except InfrastructureError:
        raise
    except Exception as exc:
        logger.exception("handler failed %s times; dead-lettering %s", attempts, envelope.event_type)
        dead_letter(
            consumer, message, DeadLetter.Status.DEAD, f"{type(exc).__name__}: {exc}", attempts, envelope
        )
        return Outcome.DEAD
    raise AssertionError("unreachable")  # pragma: no cover


INBOX_INSERT = """
    INSERT INTO events_inboxevent
        (consumer, event_id, event_type, aggregate_id, sequence, topic, partition, "offset", processed_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING id
"""


def _apply_once(consumer, message, envelope, payload, handler, savepoint: bool = True) -> Outcome:
    started = time.perf_counter()
    try:
        with transaction.atomic(savepoint=savepoint):
            with connection.cursor() as cursor:
                cursor.execute(
                    INBOX_INSERT,
                    [
                        consumer.name,
                        envelope.event_id,
                        envelope.event_type,
                        envelope.aggregate_id,
                        envelope.sequence,
                        message.topic,
                        message.partition,
                        message.offset,
                    ],
                )
                if cursor.fetchone() is None:
                    return Outcome.DUPLICATE
            handler(envelope, payload)
    except (OperationalError, InterfaceError) as exc:
        raise InfrastructureError(str(exc)) from exc
    finally:
        metrics.HANDLER_SECONDS.labels(consumer.name, envelope.event_type).observe(
            time.perf_counter() - started
        )
    return Outcome.APPLIED


def dead_letter(
    consumer: Consumer,
    message: Message,
    status: DeadLetter.Status,
    error: str,
    attempts: int,
    envelope: Envelope | None = None,
) -> DeadLetter:
    """Record `message` as dead (or parked) for `consumer`, once per topic/partition/offset."""
    try:
        letter, _ = DeadLetter.objects.update_or_create(
            consumer=consumer.name,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            defaults={
                "status": status,
                "error": error,
                "attempts": attempts,
                "event_id": envelope.event_id if envelope else "",
                "event_type": envelope.event_type if envelope else "",
                "aggregate_id": envelope.aggregate_id if envelope else message.aggregate_id,
                "sequence": envelope.sequence if envelope else None,
                "key": message.key,
                "value": message.value,
            },
        )
    except (OperationalError, InterfaceError) as exc:
        raise InfrastructureError(str(exc)) from exc
    metrics.DEAD_LETTERS.labels(consumer.name, status).inc()
    log = logger.warning if status == DeadLetter.Status.PARKED else logger.error
    log("%s %s/%s@%s: %s", status, message.topic, message.partition, message.offset, error)
    return letter
