from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Min
from django.db.models.functions import TruncHour
from django.utils import timezone

from reconciliation.models import Divergence, Sweep


def divergence_list(*, status: str | None = None, kind: str | None = None, order_id: str | None = None):
    divergences = Divergence.objects.all()
    if status:
        divergences = divergences.filter(status=status)
    if kind:
        divergences = divergences.filter(kind=kind)
    if order_id:
        divergences = divergences.filter(order_id=order_id)
    return divergences


def divergences_seen_by(sweep: Sweep):
    """The divergences a sweep saw (new or still there) or closed."""
    return Divergence.objects.filter(last_seen_at=sweep.started_at) | Divergence.objects.filter(
        closed_at__gte=sweep.started_at, closed_at__lte=sweep.finished_at
    )


def divergences_open_by_kind():
    """Open divergences counted by severity and kind, with the oldest one's first sighting."""
    return (
        Divergence.objects.filter(status=Divergence.Status.OPEN)
        .values("kind", "severity")
        .annotate(count=Count("id"), oldest=Min("first_seen_at"))
        .order_by("severity", "kind")
    )


def divergences_per_hour(*, hours: int = 24) -> list[tuple[datetime, str, int]]:
    """(hour, severity, how many were found in it) over the last `hours`, oldest first."""
    rows = (
        Divergence.objects.filter(first_seen_at__gt=timezone.now() - timedelta(hours=hours))
        .annotate(hour=TruncHour("first_seen_at"))
        .values_list("hour", "severity")
        .annotate(count=Count("id"))
        .order_by("hour")
    )
    return list(rows)


def saga_completion_percentiles(*, hours: int = 6) -> list[tuple[datetime, float, float, int]]:
    """(5 minutes, p50 and p99 seconds from created to terminal, how many ended) over the last
    `hours`, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_bin('5 minutes', ended_at, TIMESTAMPTZ '2000-01-01') AS bucket,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - created_at)),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - created_at)),"
            " count(*)"
            " FROM reconciliation_ordersaga"
            " WHERE ended_at > now() - make_interval(hours => %s) AND created_at IS NOT NULL"
            " GROUP BY 1 ORDER BY 1",
            [hours],
        )
        return cursor.fetchall()
