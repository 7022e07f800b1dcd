import pytest
from django.db import transaction

from events import publishing
from events.models import DeadLetter

pytestmark = pytest.mark.django_db


def test_metrics_report_the_outbox_backlog_and_open_dead_letters(client):
    with transaction.atomic():
        for sequence in (1, 2):
            publishing.publish(
                "TestCredited",
                aggregate_type="account",
                aggregate_id="a",
                sequence=sequence,
                payload={"amount_cents": 1, "memo": "m"},
            )
    DeadLetter.objects.create(consumer="inventory", error="e", topic="t", partition=0, offset=1)

    response = client.get("/metrics")

    assert response.status_code == 200
    text = response.content.decode()
    assert "events_outbox_backlog 2.0" in text
    assert "events_outbox_oldest_unpublished_age_seconds" in text
    assert 'events_dead_letters_open{consumer="inventory",status="dead"} 1.0' in text
    assert "events_handler_duration_seconds" in text  # declared, even before any event
