"""A consumer survives any bytes: whatever key, event-type header and value a broken or hostile
producer sends, the processing path the consumer's loop takes (the batch in one transaction, then
each message alone if a handler failed) returns an outcome for every message, so its offset is
committed, and writes nothing but a dead letter, or the event where it is a good one. A property
test: Hypothesis generates the messages, against the real PostgreSQL (docs/hostile-input.md)."""

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.envelope import MAX_INTEGER
from events.models import DeadLetter, InboxEvent, OutboxEvent
from events.processing import BatchAborted, Message, Outcome, process, process_batch
from events.tests import support

# Text as hostile as JSON carries it: NUL, control characters, long runs, any plane.
TEXT = st.one_of(st.text(max_size=30), st.text(min_size=90, max_size=400), st.just("\x00"))
INTEGERS = st.one_of(
    st.integers(min_value=-5, max_value=5), st.integers(min_value=MAX_INTEGER - 2, max_value=2**70)
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INTEGERS | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


def field(good, hostile=JSON_VALUES):
    return st.one_of(st.just(good), hostile)


ENVELOPES = st.fixed_dictionaries(
    {
        "event_type": field("TestCredited", TEXT),
        "version": field(2, INTEGERS),
        "aggregate_type": field("account", TEXT),
        "aggregate_id": field("acct", TEXT),
        "sequence": field(1, INTEGERS),
        "payload": field({"amount_cents": 100, "memo": "m"}, st.dictionaries(TEXT, JSON_VALUES, max_size=4)),
        "producer": field("tests", TEXT),
        "correlation_id": field("acct", TEXT),
        "causation_id": field(None, TEXT),
        "event_id": st.builds(lambda: str(uuid.uuid4())) | TEXT,
        "occurred_at": field("2026-12-02T10:00:00+00:00", TEXT),
    }
).map(lambda envelope: json.dumps(envelope).encode())
VALUES = st.one_of(st.none(), st.binary(max_size=600), ENVELOPES)
KEYS = st.one_of(st.none(), st.binary(max_size=300), st.text(max_size=300).map(str.encode))
EVENT_TYPES = st.one_of(st.none(), st.just("TestCredited"), st.text(max_size=300))
MESSAGES = st.lists(st.tuples(KEYS, VALUES, EVENT_TYPES), min_size=1, max_size=3)


def consume(consumer, messages: list[Message]) -> list[Outcome]:
    """What events/consuming.py does with a batch: together, or one by one once a handler failed."""
    try:
        return process_batch(consumer, messages, parked=set())
    except BatchAborted:
        return [process(consumer, message) for message in messages]


@pytest.mark.usefixtures("ledger")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(MESSAGES)
def test_any_bytes_become_an_outcome_and_nothing_but_a_dead_letter(generated):
    consumer = support.ledger_consumer("hostile")
    if support.account("acct") is None:
        support.open_account("acct")  # so that a good event applies
    messages = [
        Message("hostile", 0, offset, key, value, event_type)
        for offset, (key, value, event_type) in enumerate(generated)
    ]
    outbox_before = OutboxEvent.objects.count()

    outcomes = consume(consumer, messages)

    assert len(outcomes) == len(messages) and all(isinstance(o, Outcome) for o in outcomes)
    assert OutboxEvent.objects.count() == outbox_before
    letters = DeadLetter.objects.filter(consumer=consumer.name)
    assert letters.count() == sum(o in (Outcome.DEAD, Outcome.PARKED) for o in outcomes)
    assert all(letter.error for letter in letters)  # each with its reason
    applied = InboxEvent.objects.filter(consumer=consumer.name).count()
    assert applied == sum(o == Outcome.APPLIED for o in outcomes)
