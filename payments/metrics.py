"""The payments service's own Prometheus metrics (every service's are in events/metrics.py)."""

from prometheus_client import Counter, Gauge, Histogram

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
GATEWAY_IN_FLIGHT = Gauge(
    "payments_gateway_in_flight",
    "Calls to the card gateway the consumer's dispatcher has in flight now (payments/dispatch.py), "
    "summed over the processes; at most PAYMENTS_GATEWAY_CONCURRENCY each.",
    multiprocess_mode="livesum",
)
DISPATCH_PENDING = Gauge(
    "payments_dispatch_pending",
    "Intents handed to the dispatcher and not yet recorded (waiting or in flight), summed over the "
    "processes; the consumer pauses while a process holds PAYMENTS_DISPATCH_MAX_PENDING.",
    multiprocess_mode="livesum",
)
