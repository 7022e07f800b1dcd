"""Operations on the outbox itself (publishing goes through events/publishing.py)."""

from datetime import datetime

from django.db import connection
from django.db.models import Q

from events.models import OutboxEvent


def outbox_republish(
    *,
    aggregate_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
) -> int:
    """Mark stored events published again as unpublished, so the relay sends them once more.

    Pick them by aggregate, by creation time, or both; the relay keeps their per-aggregate order,
    and consumers' inboxes make the second delivery harmless. Returns how many rows match.
    """
    if aggregate_id is None and since is None and until is None:
        raise ValueError("name an aggregate or a time range: republishing the whole outbox is never meant")
    match = Q(published_at__isnull=False)
    if aggregate_id is not None:
        match &= Q(aggregate_id=aggregate_id)
    if since is not None:
        match &= Q(created_at__gte=since)
    if until is not None:
        match &= Q(created_at__lt=until)
    rows = OutboxEvent.objects.filter(match)
    if dry_run:
        return rows.count()
    return rows.update(published_at=None)


def outbox_pending() -> tuple[int, float]:
    """How many events wait to be published, and the age in seconds of the oldest (0 when none)."""
    backlog, _, oldest = outbox_oldest()
    return backlog, oldest


def outbox_oldest() -> tuple[int, int, float]:
    """How many events wait to be published, how many were published (the highest id less those
    waiting: ids a rolled-back insert took count too) and the age in seconds of the oldest
    waiting (0 when none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce((SELECT max(id) FROM events_outboxevent), 0) - count(*),"
            " coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)"
            " FROM events_outboxevent WHERE published_at IS NULL"
        )
        backlog, published, oldest = cursor.fetchone()
    return backlog, published, float(oldest)


def outbox_backlog() -> dict:
    """What waits in this service's outbox and dead letters."""
    backlog, oldest = outbox_pending()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_deadletter WHERE status IN ('dead', 'parked')")
        (dead_letters,) = cursor.fetchone()
    return {
        "outbox_backlog": backlog,
        "outbox_oldest_age_seconds": round(oldest, 3),
        "dead_letters_open": dead_letters,
    }
