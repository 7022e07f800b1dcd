"""A consumer survives any bytes: whatever key, event-type header and value a broken or hostile
producer sends (nested 100,000 deep, a megabyte long, invalid UTF-8, a good header on a hostile
body), the processing path the consumer's loop takes (the batch in one transaction, then
each message alone if a handler failed) returns an outcome for every message, so its offset is
committed, and writes nothing but a dead letter, or the event where it is a good one. A property
test: Hypothesis generates the messages, against the real PostgreSQL (docs/hostile-input.md)."""

import json
import uuid
from unittest import mock

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
GOOD = json.dumps(
    {
        "event_type": "TestCredited",
        "version": 2,
        "aggregate_type": "account",
        "aggregate_id": "acct",
        "sequence": 1,
        "payload": {"amount_cents": 100, "memo": "m"},
        "producer": "tests",
        "correlation_id": "acct",
        "causation_id": None,
        "event_id": "00000000-0000-4000-8000-000000000000",
        "occurred_at": "2026-12-02T10:00:00+00:00",
    }
).encode()


def inside_a_good_envelope(body: bytes) -> bytes:
    """A well-formed event whose memo is `body`, with a new event id."""
    return GOOD.replace(b'"m"', body).replace(
        b"00000000-0000-4000-8000-000000000000", str(uuid.uuid4()).encode()
    )


# What no JSON generator above makes: nesting past the parser's recursion limit, and values near
# and past a megabyte, bare or inside an otherwise good envelope.
DEEP = st.integers(min_value=20, max_value=100_000).map(lambda n: b"[" * n + b"]" * n)
LARGE = st.integers(min_value=900_000, max_value=1_100_000).map(lambda n: b'"' + b"x" * n + b'"')
HOSTILE_BODIES = st.one_of(DEEP, LARGE, st.binary(min_size=1, max_size=50))
VALUES = st.one_of(
    st.none(),
    st.binary(max_size=600),
    ENVELOPES,
    DEEP,
    HOSTILE_BODIES.map(inside_a_good_envelope),
)
KEYS = st.one_of(st.none(), st.binary(max_size=300), st.text(max_size=300).map(str.encode))
# Header values as the broker hands them: any bytes, invalid UTF-8 included, or the good type.
EVENT_TYPES = st.one_of(st.none(), st.just(b"TestCredited"), st.binary(max_size=300))
MESSAGES = st.lists(st.tuples(KEYS, VALUES, EVENT_TYPES), min_size=1, max_size=3)


class KafkaMessage:
    """What confluent-kafka's consumer hands the loop, for Message.from_kafka."""

    def __init__(self, offset: int, key: bytes | None, value: bytes | None, event_type: bytes | None):
        self._offset, self._key, self._value = offset, key, value
        self._headers = None if event_type is None else [("event_type", event_type)]

    def topic(self):
        return "hostile"

    def partition(self):
        return 0

    def offset(self):
        return self._offset

    def key(self):
        return self._key

    def value(self):
        return self._value

    def headers(self):
        return self._headers


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
        Message.from_kafka(KafkaMessage(offset, key, value, event_type))
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


@pytest.mark.usefixtures("ledger")
@pytest.mark.parametrize("raised", [RecursionError, MemoryError, KeyError], ids=lambda e: e.__name__)
def test_whatever_reading_a_message_raises_is_that_messages_dead_letter_not_the_consumers(raised):
    # given: a reader that fails as no bound foresaw
    consumer = support.ledger_consumer("hostile")
    message = Message("hostile", 0, 3, b"acct", b"{}", None)

    # when
    with mock.patch("events.processing.Envelope.from_json", side_effect=raised("boom")):
        (outcome,) = process_batch(consumer, [message], parked=set())

    # then
    assert outcome == Outcome.DEAD
    (letter,) = DeadLetter.objects.filter(consumer=consumer.name)
    assert letter.error.startswith(f"unreadable message: {raised.__name__}")
