import json

import pytest

from events.envelope import Envelope, EnvelopeError
from events.tests.support import credited


def test_an_envelope_survives_its_wire_format():
    envelope = credited("acct-1", 3, 500)

    assert Envelope.from_json(envelope.to_json()) == envelope


def test_the_message_key_is_the_aggregate_id():
    assert credited("acct-1", 1, 100).key == b"acct-1"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (None, "empty message"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"event_type": "X"}).encode(), "missing field"),
    ],
)
def test_unreadable_messages_are_refused_with_a_reason(raw, problem):
    with pytest.raises(EnvelopeError, match=problem):
        Envelope.from_json(raw)


@pytest.mark.parametrize("sequence", [0, 2**63], ids=["zero", "past-bigint"])
def test_a_sequence_must_be_an_integer_postgresql_can_hold(sequence):
    data = credited("acct-1", 1, 100).to_dict() | {"sequence": sequence}
    data["occurred_at"] = data["occurred_at"].isoformat()

    with pytest.raises(
        EnvelopeError, match=f"sequence must be an integer from 1 to {2**63 - 1}, not {sequence}"
    ):
        Envelope.from_dict(data)


@pytest.mark.parametrize(
    ("field", "value"), [("aggregate_id", "x" * 101), ("event_type", "a\x00b")], ids=["too-long", "nul"]
)
def test_an_id_must_be_text_the_tables_can_hold(field, value):
    data = credited("acct-1", 1, 100).to_dict() | {field: value}
    data["occurred_at"] = data["occurred_at"].isoformat()

    with pytest.raises(EnvelopeError, match=f"{field} must be a non-empty string of at most 100 characters"):
        Envelope.from_dict(data)


def test_a_nul_anywhere_in_the_payload_makes_the_message_unreadable():
    raw = credited("acct-1", 1, 100).to_json().replace(b'"memo":"test"', b'"memo":"te\\u0000st"')

    with pytest.raises(EnvelopeError, match="holds a NUL character"):
        Envelope.from_json(raw)


def test_a_literal_backslash_u0000_is_not_a_nul():
    raw = credited("acct-1", 1, 100).to_json().replace(b'"memo":"test"', b'"memo":"te\\\\u0000st"')

    assert Envelope.from_json(raw).payload["memo"] == "te\\u0000st"
