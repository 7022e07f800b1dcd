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


def test_metrics_report_each_stage_of_the_pipeline_as_measured(client, pipeline_measured):
    pipeline_measured({"outbox": 0.0, "consumer:inventory": 12.5}, stalled={"consumer:inventory"})

    text = client.get("/metrics").content.decode()

    assert 'events_pipeline_delay_seconds{stage="consumer:inventory"} 12.5' in text
    assert 'events_pipeline_backlog{stage="consumer:inventory"} 100.0' in text
    assert 'events_pipeline_stalled{stage="consumer:inventory"} 1.0' in text
    assert 'events_pipeline_stalled{stage="outbox"} 0.0' in text
    assert 'events_pipeline_measured_timestamp_seconds{stage="outbox"}' in text
