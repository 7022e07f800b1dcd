"""The orders service's own Prometheus metrics (every service's are in events/metrics.py)."""

from prometheus_client import Counter, Gauge

PLACEMENTS_SHED = Counter(
    "orders_placements_shed_total",
    "Orders refused with 503 before anything was written: the saga was too far behind (admission control).",
)
ADMISSION_LIMIT = Gauge(
    "orders_admission_limit",
    "How many orders admission control lets into the saga at once now (orders/services/admission.py); "
    "the largest of the web processes' limits.",
    multiprocess_mode="livemax",
)
