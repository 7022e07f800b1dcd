import pytest
from django.db import transaction

from events import publishing, schemas
from events.models import OutboxEvent
from events.topics import event_topic

pytestmark = pytest.mark.django_db


def publish_credit(**overrides):
    arguments = {
        "aggregate_type": "account",
        "aggregate_id": "acct-1",
        "sequence": 1,
        "payload": {"amount_cents": 100, "memo": "m"},
    } | overrides
    return publishing.publish("TestCredited", **arguments)


def test_publish_writes_the_event_to_the_outbox_in_the_callers_transaction():
    with transaction.atomic():
        envelope = publish_credit()

    row = OutboxEvent.objects.get()
    assert row.event_id.hex == envelope.event_id.replace("-", "")
    assert row.topic == event_topic("orders")  # the service these tests run as
    assert row.published_at is None
    assert row.envelope["version"] == 2
    assert row.envelope["producer"] == "orders"
    assert row.envelope["correlation_id"] == "acct-1"


def test_an_event_rolls_back_with_the_change_it_records():
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_credit()
        raise RuntimeError("the change failed")

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)  # no test-wide transaction around this one
def test_publish_outside_a_transaction_is_refused():
    with pytest.raises(publishing.PublishOutsideTransaction):
        publish_credit()

    assert not OutboxEvent.objects.exists()


def test_an_event_that_breaks_its_schema_is_refused_and_nothing_is_written():
    with pytest.raises(schemas.SchemaError), transaction.atomic():
        publish_credit(payload={"amount_cents": "a lot"})

    assert not OutboxEvent.objects.exists()


def test_an_event_caused_by_another_carries_its_correlation_and_names_its_cause():
    with transaction.atomic():
        cause = publish_credit(correlation_id="order-9")
        effect = publish_credit(aggregate_id="acct-2", caused_by=cause)

    assert effect.correlation_id == "order-9"
    assert effect.causation_id == cause.event_id
