"""How far the audit may look: the time up to which every change's events can have reached every
side (the other services and the projection), so that lag is never taken for divergence.

The pipeline's stages are measured by this service's `watch_pipeline` (events/pipeline.py):
every consumer group (the four services'), this service's outbox, and, asked at each sweep
through their internal APIs, the other services' outboxes. Their delays summed are how far the
slowest chain of consequences of a change can trail it (an order's event waits in its outbox,
then in a consumer, whose answer waits in another outbox, and so on); the horizon is now less
that. A change after the horizon is "not yet auditable": the rules leave it for a later sweep.
While a stage is not measured (the watcher or the broker is down), the horizon is unknown and
the sweep audits nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from events import pipeline
from events.topics import SAGA_SERVICES, SERVICES
from reconciliation import clients

CONSUMERS = SERVICES
SOURCES = SAGA_SERVICES


@dataclass(frozen=True)
class Horizon:
    # None when some stage is not measured.
    at: datetime | None
    lag_seconds: float
    # Which stage is furthest behind, or why the horizon is unknown.
    reason: str


def horizon_measure(now: datetime) -> Horizon:
    """The horizon now. Raises clients.ServiceUnavailable when a service's backlog is not read."""
    names = [pipeline.consumer_stage(c) for c in CONSUMERS] + [pipeline.OUTBOX]
    stages = pipeline.delays(names, now=now)
    unknown = [name for name in names if name not in stages or stages[name].stale]
    if unknown:
        return Horizon(None, 0.0, f"not measured lately: {', '.join(unknown)} (is watch_pipeline running?)")
    delays = {
        f"reconciliation {name}" if name == pipeline.OUTBOX else name: s.seconds for name, s in stages.items()
    }
    for service in SOURCES:
        delays[f"{service} outbox"] = float(clients.backlog(service)["outbox_oldest_age_seconds"])
    lag = sum(delays.values())
    slowest = max(delays, key=delays.get)
    return Horizon(now - timedelta(seconds=lag), lag, f"{slowest} {delays[slowest]:.1f} s behind")
