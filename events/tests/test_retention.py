from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from events import publishing, retention
from events.models import InboxEvent, OutboxEvent

pytestmark = pytest.mark.django_db


def outbox_row(age_days: float, published: bool) -> OutboxEvent:
    with transaction.atomic():
        envelope = publishing.publish(
            "TestCredited",
            aggregate_type="account",
            aggregate_id="a",
            sequence=1,
            payload={"amount_cents": 1, "memo": "m"},
        )
    moment = timezone.now() - timedelta(days=age_days)
    OutboxEvent.objects.filter(event_id=envelope.event_id).update(
        created_at=moment, published_at=moment if published else None
    )
    return OutboxEvent.objects.get(event_id=envelope.event_id)


def test_published_outbox_rows_past_retention_are_pruned_and_unpublished_ones_never():
    old_published = outbox_row(30, published=True)
    old_unpublished = outbox_row(30, published=False)
    recent_published = outbox_row(1, published=True)

    assert retention.outbox_prune(older_than=timedelta(days=7)) == 1

    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {old_unpublished.pk, recent_published.pk}
    assert not OutboxEvent.objects.filter(pk=old_published.pk).exists()


def test_inbox_rows_past_retention_are_pruned():
    for age in (40, 1):
        row = InboxEvent.objects.create(
            consumer="c",
            event_id=f"00000000-0000-4000-8000-00000000000{age % 10}",
            event_type="T",
            aggregate_id="a",
            sequence=1,
            topic="t",
            partition=0,
            offset=age,
        )
        InboxEvent.objects.filter(pk=row.pk).update(processed_at=timezone.now() - timedelta(days=age))

    assert retention.inbox_prune(older_than=timedelta(days=30)) == 1
    assert list(InboxEvent.objects.values_list("offset", flat=True)) == [1]


def test_the_prune_tasks_are_scheduled_in_celery_beat():
    from django_celery_beat.models import PeriodicTask

    tasks = set(PeriodicTask.objects.values_list("task", flat=True))

    assert {"events.tasks.outbox_prune", "events.tasks.inbox_prune"} <= tasks
