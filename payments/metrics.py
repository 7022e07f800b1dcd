"""The payments service's own Prometheus metrics (every service's are in events/metrics.py)."""

from prometheus_client import Counter, Histogram

GATEWAY_SECONDS = Histogram(
    "payments_gateway_seconds",
    "Seconds per call to the card gateway, answered or not, by kind (charge, refund).",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GATEWAY_UNANSWERED = Counter(
    "payments_gateway_unanswered_total",
    "Gateway calls left without an outcome, by kind and why: unavailable (no answer, a timeout, "
    "a 5xx or a 409; retried with the same key) or refused (a 4xx other than a decline: a person "
    "must look).",
    ["kind", "outcome"],
)
