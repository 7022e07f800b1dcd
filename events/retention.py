"""Pruning: published outbox rows and old inbox rows, so neither table grows forever."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from events.models import InboxEvent, OutboxEvent

CHUNK = 5000


def outbox_prune(*, older_than: timedelta | None = None) -> int:
    """Delete outbox rows published longer ago than the retention; unpublished rows are never pruned."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.EVENTS_OUTBOX_RETENTION_DAYS))
    return _delete_in_chunks(OutboxEvent.objects.filter(published_at__lt=cutoff))


def inbox_prune(*, older_than: timedelta | None = None) -> int:
    """Delete inbox rows older than the retention: redeliveries older than that are no longer recognised."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.EVENTS_INBOX_RETENTION_DAYS))
    return _delete_in_chunks(InboxEvent.objects.filter(processed_at__lt=cutoff))


def _delete_in_chunks(queryset) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("id", flat=True)[:CHUNK])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(id__in=ids).delete()[0]
