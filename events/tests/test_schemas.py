import dataclasses

import pytest

from events import schemas
from events.tests.support import CreditedV2, credited


def test_the_newest_version_is_read_as_it_is():
    payload = schemas.payload_of(credited("acct-1", 1, 250))

    assert payload == CreditedV2(amount_cents=250, memo="test")


def test_an_older_version_is_upcast_to_the_newest_before_a_handler_sees_it():
    payload = schemas.payload_of(credited("acct-1", 1, 300, version=1))

    assert payload == CreditedV2(amount_cents=300, memo="(v1)")


def test_a_payload_that_breaks_its_schema_is_refused():
    envelope = dataclasses.replace(credited("acct-1", 1, 300), payload={"amount_cents": "lots"})

    with pytest.raises(schemas.SchemaError, match="TestCredited v2 payload is invalid"):
        schemas.payload_of(envelope)


def test_a_version_newer_than_the_service_knows_is_refused():
    envelope = dataclasses.replace(credited("acct-1", 1, 300), version=3)

    with pytest.raises(schemas.NewerVersion, match="newer than this service knows"):
        schemas.payload_of(envelope)


def test_an_unknown_event_type_is_refused():
    envelope = dataclasses.replace(credited("acct-1", 1, 300), event_type="Nope")

    with pytest.raises(schemas.SchemaError, match="unknown event type 'Nope'"):
        schemas.payload_of(envelope)


def test_a_version_cannot_be_registered_without_an_upcast_from_the_previous_one():
    with pytest.raises(ValueError, match="needs an upcast"):
        schemas.register("TestOther", 2, CreditedV2, producer="tests")


def test_an_event_type_has_one_producer():
    with pytest.raises(ValueError, match="TestCredited is published by tests, not orders"):
        schemas.register("TestCredited", 9, CreditedV2, producer="orders", upcast=lambda v: v)

    assert schemas.producer_of("TestCredited") == "tests"
    assert schemas.producer_of("RefundPayment") == "reconciliation"
