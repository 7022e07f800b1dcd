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
