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


def test_a_sequence_must_be_a_positive_integer():
    data = credited("acct-1", 1, 100).to_dict() | {"sequence": 0}
    data["occurred_at"] = data["occurred_at"].isoformat()

    with pytest.raises(EnvelopeError, match="sequence must be a positive integer"):
        Envelope.from_dict(data)
