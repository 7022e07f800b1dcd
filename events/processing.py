"""Applying messages to a consumer: exactly once in effect, under at-least-once delivery.

process_batch() applies a poll batch in one transaction. For each message, in order:
1. An event type this consumer has no handler for is skipped, by the message's `event_type`
   header when it has one (without parsing the message), by its envelope otherwise.
2. If an earlier event of the same aggregate (the message key) is dead-lettered for this
   consumer, the message is parked behind it: not applied out of order.
3. Unreadable messages, events on a topic whose owner does not publish them (the broker lets
   only the owner write its topic; the envelope must say it and its type must be the owner's),
   and payloads that fail their schema are dead-lettered at once: whatever
   reading one message raises (a bound of events/envelope.py, or any exception at all) is that
   message's outcome, never the consumer's, so no message can stop a consumer.
Then the batch's events are recorded in the inbox with one multi-row insert (consumer + event
id, unique), which says which of them are new: a redelivered event finds itself there and
changes nothing. The new ones go to their batch handlers (events/consumers.py), which apply
them with set-based statements; what they publish is written to the outbox with one insert.
If a handler raises, the whole transaction rolls back (nothing of the batch is applied) and the
caller applies the messages one by one with process(): the same steps for a batch of one, with
retries and back-off, and a message whose handler still fails is dead-lettered (table and
dead-letter topic) while the consumer carries on.

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

from events import dead_letter_state, logcontext, metrics, schemas
from events.consumers import Consumer, Event
from events.envelope import MAX_TEXT, Envelope, EnvelopeError
from events.models import BLOCKING, DeadLetter
from events.prepared import Statement
from events.publishing import outbox_batch
from events.topics import topic_owner

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"  # no handler for this event type in this consumer
    PARKED = "parked"
    DEAD = "dead"
    WAITING = "waiting"  # a newer version than this service knows: kept until it is upgraded


# The outcomes that hold back the aggregate's later events.
HOLDING = (Outcome.DEAD, Outcome.PARKED, Outcome.WAITING)


class InfrastructureError(Exception):
    """The database did not answer; the message was not applied and must be tried again."""


class BatchAborted(Exception):
    """A handler raised inside process_batch(): its transaction was rolled back."""


@dataclass(frozen=True)
class Message:
    """A Kafka message as the consumer read it (or as a dead letter stored it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # The producer's `event_type` header, if it sent one (the relay always does).
    event_type: str | None = None

    @property
    def aggregate_id(self) -> str:
        """The key as text PostgreSQL can hold and compare: any bytes from the broker, a NUL
        replaced and cut to the columns' length (a hostile key parks and dead-letters like any)."""
        if not self.key:
            return ""
        return self.key.decode(errors="replace").replace("\x00", "\ufffd")[:MAX_TEXT]

    @classmethod
    def from_kafka(cls, message) -> "Message":
        event_type = None
        for name, value in message.headers() or ():
            if name == "event_type" and value is not None:
                event_type = value.decode(errors="replace")
        return cls(
            message.topic(), message.partition(), message.offset(), message.key(), message.value(), event_type
        )


@dataclass(frozen=True)
class _Ready:
    """A message that passed its checks: what the inbox and the handlers get."""

    message: Message
    event: Event


def process_batch(consumer: Consumer, messages: list[Message], *, parked: set[str]) -> list[Outcome]:
    """Apply `messages` in one transaction; the outcome of each, in order.

    `parked` holds the aggregates with an open dead letter (the caller keeps it); aggregates
    dead-lettered or parked here are added to it. Raises BatchAborted (nothing applied) when a
    handler raised, and InfrastructureError (nothing applied) when the database did not answer.
    """
    outcomes: list[Outcome | None] = [None] * len(messages)
    started = time.perf_counter()
    try:
        with logcontext.bind(consumer=consumer.name), transaction.atomic(), outbox_batch():
            ready: list[tuple[int, _Ready]] = []
            for index, message in enumerate(messages):
                prepared = _prepare(consumer, message, parked)
                if isinstance(prepared, Outcome):
                    outcomes[index] = prepared
                    if prepared in HOLDING:
                        parked.add(message.aggregate_id)
                else:
                    ready.append((index, prepared))
            try:
                new = _apply(consumer, [r for _, r in ready])
            except (OperationalError, InterfaceError, InfrastructureError):
                raise
            except Exception as exc:
                raise BatchAborted(f"{type(exc).__name__}: {exc}") from exc
            for (index, _), is_new in zip(ready, new, strict=True):
                outcomes[index] = Outcome.APPLIED if is_new else Outcome.DUPLICATE
    except (OperationalError, InterfaceError) as exc:
        raise InfrastructureError(str(exc)) from exc
    metrics.BATCH_SECONDS.labels(consumer.name).observe(time.perf_counter() - started)
    return outcomes


def process(consumer: Consumer, message: Message, *, blocked: bool | None = None) -> Outcome:
    """Apply one message on its own, with retries; dead-letter it if its handler keeps failing.

    `blocked` says whether the message's aggregate has an open dead letter (the caller may know);
    None looks it up here. Retrying a dead letter passes False.
    """
    with logcontext.bind(consumer=consumer.name, topic=message.topic, offset=message.offset):
        if blocked is None:
            blocked = blocked_aggregates(consumer, [message.aggregate_id]) != set()
        prepared = _prepare(consumer, message, {message.aggregate_id} if blocked else set())
        if isinstance(prepared, Outcome):
            return prepared
        envelope = prepared.event.envelope
        with logcontext.bind(event_id=envelope.event_id, correlation_id=envelope.correlation_id):
            return _apply_alone(consumer, prepared)


def _prepare(consumer: Consumer, message: Message, parked: set[str]) -> _Ready | Outcome:
    """The message's event, ready for the inbox and its handler; or its outcome when there is
    nothing to apply (skipped, parked, dead-lettered)."""
    if message.event_type is not None and message.event_type not in consumer.handlers:
        return Outcome.SKIPPED
    if message.aggregate_id in parked and _park(consumer, message):
        return Outcome.PARKED
    try:
        envelope = Envelope.from_json(message.value)
    except EnvelopeError as exc:
        dead_letter(consumer, message, DeadLetter.Status.DEAD, f"unreadable message: {exc}", 1)
        return Outcome.DEAD
    except Exception as exc:  # noqa: BLE001 - whatever one message's bytes raise is that message's fault
        logger.exception("reading a message raised")
        dead_letter(consumer, message, DeadLetter.Status.DEAD, f"unreadable message: {_named(exc)}", 1)
        return Outcome.DEAD
    if envelope.event_type not in consumer.handlers:
        return Outcome.SKIPPED
    if forged := _not_from_owner(message, envelope):
        dead_letter(consumer, message, DeadLetter.Status.DEAD, forged, 1, envelope)
        return Outcome.DEAD
    try:
        payload = schemas.payload_of(envelope)
    except schemas.NewerVersion as exc:
        dead_letter(
            consumer, message, DeadLetter.Status.WAITING, f"{exc}: waiting for an upgrade", 1, envelope
        )
        return Outcome.WAITING
    except schemas.SchemaError as exc:
        dead_letter(consumer, message, DeadLetter.Status.DEAD, str(exc), 1, envelope)
        return Outcome.DEAD
    except Exception as exc:  # noqa: BLE001 - as above: a payload no schema can validate
        logger.exception("validating a payload raised")
        dead_letter(consumer, message, DeadLetter.Status.DEAD, f"invalid payload: {_named(exc)}", 1, envelope)
        return Outcome.DEAD
    return _Ready(message, Event(envelope, payload))


def _not_from_owner(message: Message, envelope: Envelope) -> str | None:
    """Why the event cannot have come from its topic's owner, or None when it can. A topic that
    is no service's (a test's throw-away topic) has no owner to check."""
    owner = topic_owner(message.topic)
    if owner is None:
        return None
    if envelope.producer != owner:
        return f"forged event: {message.topic} carries the {owner} service's, not {envelope.producer!r}'s"
    publisher = schemas.producer_of(envelope.event_type)
    if publisher != owner:
        return f"forged event: {envelope.event_type} is published by {publisher}, not on {message.topic}"
    return None


def _named(exc: BaseException) -> str:
    """An exception for a dead letter's error: its type and its message, cut short."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 500 else f"{text[:500]}..."


def _apply_alone(consumer: Consumer, ready: _Ready) -> Outcome:
    envelope = ready.event.envelope
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
                try:
                    with transaction.atomic(), outbox_batch():
                        (new,) = _apply(consumer, [ready])
                except (OperationalError, InterfaceError) as exc:
                    raise InfrastructureError(str(exc)) from exc
                return Outcome.APPLIED if new else Outcome.DUPLICATE
    except InfrastructureError:
        raise
    except Exception as exc:
        logger.exception("handler failed %s times; dead-lettering %s", attempts, envelope.event_type)
        dead_letter(
            consumer,
            ready.message,
            DeadLetter.Status.DEAD,
            f"{type(exc).__name__}: {exc}",
            attempts,
            envelope,
        )
        return Outcome.DEAD
    raise AssertionError("unreachable")  # pragma: no cover


def _apply(consumer: Consumer, ready: list[_Ready]) -> list[bool]:
    """Record `ready` in the inbox and hand the new events to their handlers; which were new."""
    new = _inbox_record(consumer, ready) if consumer.inbox else [True] * len(ready)
    events = [r.event for r, is_new in zip(ready, new, strict=True) if is_new]
    if not events:
        return new
    calls = list(_handler_calls(consumer, events))
    if consumer.lock is not None and len(calls) > 1:
        # One call locks its own rows in sorted order; several must not each lock theirs in turn.
        consumer.lock(events)
    for handler, group in calls:
        started = time.perf_counter()
        handler(group)
        metrics.HANDLER_SECONDS.labels(consumer.name, handler.__name__).observe(time.perf_counter() - started)
    return new


def _handler_calls(consumer: Consumer, events: list[Event]):
    """(handler, its events) in the order they are to be called: each round holds at most one
    event of each aggregate (when the consumer asks for that), and a handler's events come to it
    together, in the order they were read."""
    if consumer.one_event_per_aggregate:
        rounds: list[list[Event]] = []
        seen: dict[str, int] = {}
        for event in events:
            number = seen.get(event.envelope.aggregate_id, 0)
            seen[event.envelope.aggregate_id] = number + 1
            if number == len(rounds):
                rounds.append([])
            rounds[number].append(event)
    else:
        rounds = [events]
    for round_events in rounds:
        calls: dict = {}
        for event in round_events:
            calls.setdefault(consumer.handlers[event.envelope.event_type], []).append(event)
        yield from calls.items()


INBOX_INSERT = Statement(
    "events_inbox_insert",
    """
    INSERT INTO events_inboxevent
        (consumer, event_id, event_type, aggregate_id, sequence, topic, partition, "offset", processed_at)
    SELECT %s::text, e.event_id, e.event_type, e.aggregate_id, e.sequence, e.topic, e.partition, e."offset",
           now()
    FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::int[], %s::bigint[])
        AS e(event_id, event_type, aggregate_id, sequence, topic, partition, "offset")
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id::text
""",
)


def _inbox_record(consumer: Consumer, ready: list[_Ready]) -> list[bool]:
    """Insert the events into the inbox with one statement; for each, whether it is new (an
    event twice in one batch is new once: its first time)."""
    if not ready:
        return []
    envelopes = [r.event.envelope for r in ready]
    with connection.cursor() as cursor:
        INBOX_INSERT.execute(
            cursor,
            [
                consumer.name,
                [e.event_id for e in envelopes],
                [e.event_type for e in envelopes],
                [e.aggregate_id for e in envelopes],
                [e.sequence for e in envelopes],
                [r.message.topic for r in ready],
                [r.message.partition for r in ready],
                [r.message.offset for r in ready],
            ],
        )
        inserted = {row[0] for row in cursor.fetchall()}
    new = []
    for envelope in envelopes:
        new.append(envelope.event_id in inserted)
        inserted.discard(envelope.event_id)
    return new


def blocked_aggregates(consumer: Consumer, aggregate_ids: list[str] | None = None) -> set[str]:
    """The aggregates with an open dead letter in `consumer`: all of them, or those among
    `aggregate_ids`."""
    letters = DeadLetter.objects.filter(consumer=consumer.name, status__in=BLOCKING)
    if aggregate_ids is not None:
        letters = letters.filter(aggregate_id__in=set(aggregate_ids))
    try:
        return set(letters.values_list("aggregate_id", flat=True).distinct())
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
            if _letter_of(consumer, message).filter(status__in=BLOCKING):
                return True  # redelivered (the offset was never committed): it keeps its place in line
            try:  # for the people who will look at it: what it is, if it can be read
                envelope = Envelope.from_json(message.value)
            except Exception:  # noqa: BLE001 - unreadable, it is parked all the same
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


def dead_letter(
    consumer: Consumer,
    message: Message,
    status: DeadLetter.Status,
    error: str,
    attempts: int,
    envelope: Envelope | None = None,
) -> DeadLetter:
    """Record `message` as dead (or parked, or waiting) for `consumer`, once per topic/partition/
    offset; a letter already closed (retried, discarded) is left as it is (dead_letter_state)."""
    fields = {
        "status": status,
        "error": error.replace("\x00", "\ufffd"),
        "attempts": attempts,
        "event_id": envelope.event_id if envelope else "",
        "event_type": envelope.event_type if envelope else "",
        "aggregate_id": envelope.aggregate_id if envelope else message.aggregate_id,
        "sequence": envelope.sequence if envelope else None,
        "key": message.key,
        "value": message.value,
    }
    try:
        with transaction.atomic():
            letter = _letter_of(consumer, message).select_for_update().first()
            if letter is None:
                letter = DeadLetter.objects.create(
                    consumer=consumer.name,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    **fields,
                )
            elif dead_letter_state.allowed(letter.status, status):
                for name, value in fields.items():
                    setattr(letter, name, value)
                letter.save()
            else:
                logger.warning(
                    "%s/%s@%s failed again (%s) but its dead letter %s is %s: left so",
                    message.topic,
                    message.partition,
                    message.offset,
                    error,
                    letter.pk,
                    letter.status,
                )
                return letter
    except (OperationalError, InterfaceError) as exc:
        raise InfrastructureError(str(exc)) from exc
    metrics.DEAD_LETTERS.labels(consumer.name, status).inc()
    log = logger.error if status == DeadLetter.Status.DEAD else logger.warning
    log("%s %s/%s@%s: %s", status, message.topic, message.partition, message.offset, error)
    return letter
