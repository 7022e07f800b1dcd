"""The figures of one stretch of load, from what Locust recorded (each request) and from the orders
database (when each order became terminal)."""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from bench import stack

# Completion time counts the sagas that ran to their end (completed or failed); a cancelled order
# ends when its customer asks, which says nothing about the pipeline.
SAGA_ENDS = ("completed", "failed")


@dataclass
class Request:
    started: float
    name: str
    latency_ms: float
    status: int
    kind: str
    order_id: str
    error: str


def requests_read(path: Path) -> list[Request]:
    if not path.exists():
        return []
    with path.open(newline="") as samples:
        return [
            Request(float(r[0]), r[1], float(r[2]), int(r[3]), r[4], r[5], r[6])
            for r in csv.reader(samples)
            if r
        ]


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (no interpolation): a value that was really seen."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency_summary(values: list[float]) -> dict:
    return {
        "p50": _round(percentile(values, 0.50)),
        "p95": _round(percentile(values, 0.95)),
        "p99": _round(percentile(values, 0.99)),
        "max": _round(max(values, default=None)),
    }


def completion_seconds(order_ids: list[str]) -> dict[str, float]:
    """Seconds from placement to the saga's end, by order, for the orders that ran to their end."""
    if not order_ids:
        return {}
    rows = stack.query(
        "orders",
        """
        SELECT o.order_id::text, EXTRACT(EPOCH FROM max(c.at) - o.created_at)
        FROM orders_order o JOIN orders_orderstatuschange c ON c.order_id = o.order_id
        WHERE o.order_id = ANY(%s::uuid[]) AND o.status = ANY(%s) AND c.status = o.status
        GROUP BY o.order_id, o.created_at
        """,
        [order_ids, list(SAGA_ENDS)],
    )
    return {order_id: float(seconds) for order_id, seconds in rows}


def stretch_summary(
    *,
    rate: float,
    duration: float,
    requests: list[Request],
    samples: list[tuple[float, dict]],
    settled_after: float | None = None,
) -> dict:
    """Everything one stretch of load is judged by."""
    places = [r for r in requests if r.name == "place"]
    accepted = [r for r in places if r.status == 202]
    errors = [r for r in requests if r.error]
    completion = completion_seconds([r.order_id for r in accepted])
    start = min((r.started for r in places), default=0)
    # The queues while the load ran, and in the quarter minute after it, as they drained.
    window = [(at, v) for at, v in samples if start <= at <= start + duration + 15 and "error" not in v]
    backlog = [total(v, "outbox.") for _, v in window]
    lag = [total(v, "lag.") for _, v in window]
    under_load = [total(v, "outbox.") + total(v, "lag.") for at, v in window if at <= start + duration]
    return {
        "offered_per_second": rate,
        "seconds": duration,
        "placed": len(places),
        "accepted": len(accepted),
        "achieved_per_second": round(len(accepted) / duration, 1),
        "errors": len(errors),
        "error_examples": sorted({r.error for r in errors})[:5],
        "placement_ms": latency_summary([r.latency_ms for r in places]),
        "completion_s": {
            "p50": _round(percentile(list(completion.values()), 0.50), 3),
            "p99": _round(percentile(list(completion.values()), 0.99), 3),
            "max": _round(max(completion.values(), default=None), 3),
            "orders": len(completion),
        },
        "max_outbox_backlog": max(backlog, default=0),
        "max_consumer_lag": max(lag, default=0),
        "falling_behind": _growing(under_load),
        # Where the CPU went while the load ran (cores, by kind of process), and all the CPU the
        # stretch's orders cost, from the first order until the last saga ended and the queues
        # emptied: the system's, and apart from it the card gateway simulator's (the provider's).
        "cpu_cores": cpu_by_process(samples, start, start + duration),
        **_cpu_per_order(samples, start, duration, settled_after, len(accepted)),
    }


def _cpu_per_order(samples, start: float, duration: float, settled_after, accepted: int) -> dict:
    if settled_after is None:
        return {"cpu_ms_per_order": None, "gateway_cpu_ms_per_order": None}
    span = duration + settled_after
    cores = cpu_by_process(samples, start, start + span)
    gateway = cores.pop(stack.GATEWAY, 0.0)
    per_order = 1000 * span / max(accepted, 1)
    return {
        "cpu_ms_per_order": round(sum(cores.values()) * per_order, 1),
        "gateway_cpu_ms_per_order": round(gateway * per_order, 1),
    }


def cpu_by_process(samples: list[tuple[float, dict]], start: float, end: float) -> dict[str, float]:
    """Average cores used by each kind of process between `start` and `end` (epoch seconds)."""
    totals: dict[str, float] = {}
    for at, values in samples:
        if start <= at <= end:
            for key, value in values.items():
                if key.startswith("cpu."):
                    kind = key.removeprefix("cpu.")
                    totals[kind] = totals.get(kind, 0.0) + value
    span = max(end - start, 1e-9)
    return {kind: round(seconds / span, 2) for kind, seconds in sorted(totals.items(), key=lambda kv: -kv[1])}


def _growing(series: list[int]) -> bool:
    """Whether the queue grew through the stretch (its last third well above its first)."""
    if len(series) < 6:
        return False
    third = len(series) // 3
    first, last = sum(series[:third]) / third, sum(series[-third:]) / third
    return last > 2 * first + 50


def total(values: dict, prefix: str) -> int:
    return sum(v for k, v in values.items() if k.startswith(prefix))


def _round(value, digits: int = 1):
    return None if value is None else round(value, digits)
