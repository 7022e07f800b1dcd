"""What support staff do with dead letters: retry one once its cause is fixed, or discard it;
and what a consumer does when it starts: apply the letters that waited for it to be upgraded.

Either way the events of the same aggregate parked behind it are then applied in their original
order, until one of them fails in turn (and becomes the new dead letter at the head of the line).
Parking and releasing take the same per-aggregate lock as the consumer, so an event cannot slip
into the line while it is being released.
"""

import logging

from django.db import transaction
from django.db.models import F

from events import dead_letter_state, schemas
from events.consumers import Consumer, consumer_get
from events.envelope import Envelope, EnvelopeError
from events.models import DeadLetter
from events.processing import Message, Outcome, aggregate_lock, process

logger = logging.getLogger(__name__)


class NotRetryable(ValueError):
    """The letter is not one this can be done to: `code` says why ("not_retryable": a parked
    letter, whose turn comes after its head's; "closed": retried or discarded already)."""

    NOT_RETRYABLE = "not_retryable"
    CLOSED = "closed"

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def dead_letter_retry(letter: DeadLetter, *, by: str) -> Outcome:
    """Apply the dead letter's message again; on success, release what was parked behind it."""
    if letter.status not in (DeadLetter.Status.DEAD, DeadLetter.Status.WAITING):
        code = NotRetryable.NOT_RETRYABLE if letter.is_open else NotRetryable.CLOSED
        raise NotRetryable(
            code, f"dead letter {letter.pk} is {letter.status}; only dead and waiting ones can be retried"
        )
    return _retry(consumer_get(letter.consumer), letter, by)


def _retry(consumer: Consumer, letter: DeadLetter, by: str) -> Outcome:
    with transaction.atomic():
        aggregate_lock(consumer, letter.aggregate_id)
        outcome = process(consumer, _message(letter), blocked=False)
        if outcome in (Outcome.DEAD, Outcome.WAITING):
            DeadLetter.objects.filter(pk=letter.pk).update(attempts=F("attempts") + letter.attempts)
            return outcome
        _close(letter, DeadLetter.Status.RETRIED, by)  # unless support discarded it meanwhile
        _release_parked(consumer, letter.aggregate_id, by)
    logger.info("dead letter %s retried by %s: %s", letter.pk, by, outcome)
    return outcome


def dead_letters_upgraded_retry(consumer: Consumer) -> int:
    """Apply, in their order, `consumer`'s letters that waited for a version this code now
    reads (called when the consumer starts); how many were applied."""
    applied = 0
    waiting = DeadLetter.objects.filter(consumer=consumer.name, status=DeadLetter.Status.WAITING)
    for letter in waiting.order_by("partition", "offset"):
        try:
            envelope = Envelope.from_json(bytes(letter.value or b""))
        except EnvelopeError:
            continue
        if not schemas.is_registered(envelope.event_type):
            continue
        if envelope.version > schemas.latest_version(envelope.event_type):
            continue  # still newer than this code
        try:
            outcome = _retry(consumer, letter, "upgrade")
        except NotRetryable:
            continue  # support discarded it meanwhile
        if outcome not in (Outcome.DEAD, Outcome.WAITING):
            applied += 1
    if applied:
        logger.info("%s: applied %s events that waited for this upgrade", consumer.name, applied)
    return applied


def dead_letter_discard(letter: DeadLetter, *, by: str) -> None:
    """Give up on the dead letter's message; release what was parked behind it."""
    if not letter.is_open:
        raise NotRetryable(NotRetryable.CLOSED, f"dead letter {letter.pk} is already {letter.status}")
    consumer = consumer_get(letter.consumer)
    with transaction.atomic():
        aggregate_lock(consumer, letter.aggregate_id)
        _close(letter, DeadLetter.Status.DISCARDED, by)
        _release_parked(consumer, letter.aggregate_id, by)
    logger.info("dead letter %s discarded by %s", letter.pk, by)


def _release_parked(consumer, aggregate_id: str, by: str) -> None:
    if DeadLetter.objects.filter(
        consumer=consumer.name,
        aggregate_id=aggregate_id,
        status__in=[DeadLetter.Status.DEAD, DeadLetter.Status.WAITING],
    ).exists():
        return  # another dead (or waiting) letter still heads the line
    parked = DeadLetter.objects.filter(
        consumer=consumer.name, aggregate_id=aggregate_id, status=DeadLetter.Status.PARKED
    ).order_by("partition", "offset")
    for letter in parked:
        if process(consumer, _message(letter), blocked=False) in (Outcome.DEAD, Outcome.WAITING):
            return  # it now heads the line; the rest stay parked
        _close(letter, DeadLetter.Status.RETRIED, by)


def _close(letter: DeadLetter, status: DeadLetter.Status, by: str) -> None:
    """Close `letter` as it is stored now (the caller holds its aggregate's lock): another
    person may have closed it since it was read."""
    letter.refresh_from_db(fields=["status"])
    try:
        dead_letter_state.close(letter, status, by=by)
    except dead_letter_state.IllegalTransition as exc:
        raise NotRetryable(NotRetryable.CLOSED, str(exc)) from exc


def _message(letter: DeadLetter) -> Message:
    return Message(
        topic=letter.topic,
        partition=letter.partition,
        offset=letter.offset,
        key=bytes(letter.key) if letter.key is not None else None,
        value=bytes(letter.value) if letter.value is not None else None,
    )
