"""The orders service's own Prometheus metrics (every service's are in events/metrics.py)."""

from prometheus_client import Counter

PLACEMENTS_SHED = Counter(
    "orders_placements_shed_total",
    "Orders refused with 503 before anything was written: the saga was too far behind (admission control).",
)
