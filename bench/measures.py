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
        "steal_cores": _round(_steal(samples, start, start + duration), 3),
        # Accepted orders a second in each 5 s of the stretch: an admission that cycles shows here.
        "accepted_per_second_5s": windows(accepted, start, duration, 5),
        "hops_s": hops([r.order_id for r in accepted]),
    }


def windows(accepted: list[Request], start: float, duration: float, seconds: float) -> list[float]:
    """Accepted orders a second in each `seconds` of the stretch (a last partial window dropped)."""
    counts = [0] * max(int(duration // seconds), 1)
    for r in accepted:
        index = int((r.started - start) // seconds)
        if 0 <= index < len(counts):
            counts[index] += 1
    return [round(n / seconds, 1) for n in counts]


def _steal(samples, start: float, end: float) -> float:
    stolen = sum(v.get("steal", 0.0) for at, v in samples if start <= at <= end)
    return stolen / max(end - start, 1e-9)


# The saga's hops, each from the timestamps the services' own tables hold: (name, where it
# starts, where it ends), each a (service, column, event type). An event's outbox row has
# created_at and published_at; each consumer's inbox row processed_at ("inbox").
# An order has one event of each of these types on its way, so the hops join on the order's id.
_OUTBOX = (
    "SELECT aggregate_id, EXTRACT(EPOCH FROM {column}) FROM events_outboxevent"
    " WHERE event_type = %s AND aggregate_id = ANY(%s)"
)
_INBOX = (
    "SELECT aggregate_id, EXTRACT(EPOCH FROM processed_at) FROM events_inboxevent"
    " WHERE consumer = %s AND event_type = %s AND aggregate_id = ANY(%s)"
)
HOPS = (
    (
        "orders outbox",  # OrderCreated written -> published
        ("orders", "created_at", "OrderCreated"),
        ("orders", "published_at", "OrderCreated"),
    ),
    ("to inventory", ("orders", "published_at", "OrderCreated"), ("inventory", "inbox", "OrderCreated")),
    (
        "inventory outbox",
        ("inventory", "created_at", "InventoryReserved"),
        ("inventory", "published_at", "InventoryReserved"),
    ),
    (
        "to payments",
        ("inventory", "published_at", "InventoryReserved"),
        ("payments", "inbox", "InventoryReserved"),
    ),
    (
        "charge",  # InventoryReserved applied -> the gateway's answer recorded with PaymentProcessed
        ("payments", "inbox", "InventoryReserved"),
        ("payments", "created_at", "PaymentProcessed"),
    ),
    (
        "payments outbox",
        ("payments", "created_at", "PaymentProcessed"),
        ("payments", "published_at", "PaymentProcessed"),
    ),
    ("to orders", ("payments", "published_at", "PaymentProcessed"), ("orders", "inbox", "PaymentProcessed")),
)


def hops(order_ids: list[str]) -> dict[str, dict]:
    """p50 and p99 seconds of each hop of the saga for `order_ids`, so that the next regression
    names its hop. The charge is the gateway's call, with its wait in the dispatcher."""
    if not order_ids:
        return {}
    found: dict[tuple, dict[str, float]] = {}

    def times(point: tuple) -> dict[str, float]:
        if point not in found:
            service, column, event_type = point
            if column == "inbox":
                rows = stack.query(service, _INBOX, [service, event_type, order_ids])
            else:
                rows = stack.query(service, _OUTBOX.format(column=column), [event_type, order_ids])
            found[point] = {order_id: float(at) for order_id, at in rows if at is not None}
        return found[point]

    result = {}
    for name, start, end in HOPS:
        begun, ended = times(start), times(end)
        seconds = [ended[o] - begun[o] for o in begun.keys() & ended.keys()]
        result[name] = {
            "p50": _round(percentile(seconds, 0.5), 3),
            "p99": _round(percentile(seconds, 0.99), 3),
        }
    return result


def _cpu_per_order(samples, start: float, duration: float, settled_after, accepted: int) -> dict:
    if settled_after is None:
        return {
            "cpu_ms_per_order": None,
            "system_cpu_ms_per_order": None,
            "load_cpu_ms_per_order": None,
            "gateway_cpu_ms_per_order": None,
        }
    span = duration + settled_after
    cores = cpu_by_process(samples, start, start + span)
    gateway = cores.pop(stack.GATEWAY, 0.0)
    load = cores.pop(stack.LOAD_GENERATOR, 0.0)
    per_order = 1000 * span / max(accepted, 1)
    return {
        "cpu_ms_per_order": round((sum(cores.values()) + load) * per_order, 1),
        # the system's own: the load generator's and the simulated provider's apart
        "system_cpu_ms_per_order": round(sum(cores.values()) * per_order, 1),
        "load_cpu_ms_per_order": round(load * per_order, 1),
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
