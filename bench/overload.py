"""The overload stretch: twice the maximum sustained rate, judged by what admission control must
keep (the orders it accepted are not harmed) rather than by keeping up.

What it reports, from the requests and the services' own databases:
- answers by status, and how many refusals (503) carried Retry-After;
- placement p99 over all answers, and the goodput (accepted orders a second) against the
  maximum sustained rate;
- the accepted orders' completion p99, against the admission bound plus 2 s;
- accepted orders failed for `timeout`; payments refunded for an order nobody cancelled;
- divergences, open or closed, that reconciliation recorded on the stretch's orders;
- how long after the load the queues were drained.
"""

from collections import Counter

from bench import stack
from bench.measures import Request

# What the stretch must show (issue 14): the goodput share of the maximum sustained rate, the
# placement p99 over every answer, the completion p99 past the admission bound, the drain time.
MIN_GOODPUT_SHARE = 0.9
MAX_PLACEMENT_P99_MS = 300
COMPLETION_MARGIN_S = 2
MAX_DRAIN_S = 60


def overload_summary(*, requests: list[Request], summary: dict, max_sustained: float, bound_s: float) -> dict:
    """The overload stretch's own figures and verdict (`summary` is its stretch_summary)."""
    places = [r for r in requests if r.name == "place"]
    accepted = [r.order_id for r in places if r.status == 202]
    refused = [r for r in places if r.status in (429, 503)]
    statuses = Counter(str(r.status) for r in places)
    timeouts = _count(
        "orders",
        "SELECT count(*) FROM orders_order WHERE order_id = ANY(%s::uuid[]) AND failure_reason = 'timeout'",
        accepted,
    )
    cancelled = {
        row[0]
        for row in stack.query(
            "orders",
            "SELECT order_id::text FROM orders_order"
            " WHERE order_id = ANY(%s::uuid[]) AND status = 'cancelled'",
            [accepted],
        )
    }
    refunded = {
        row[0]
        for row in stack.query(
            "payments",
            "SELECT order_id FROM payments_payment WHERE order_id = ANY(%s) AND status = 'refunded'",
            [accepted],
        )
    }
    divergences = dict(
        stack.query(
            "reconciliation",
            "SELECT kind, count(*) FROM reconciliation_divergence WHERE order_id = ANY(%s) GROUP BY kind",
            [accepted],
        )
    )
    goodput = summary["achieved_per_second"]
    p99 = summary["placement_ms"]["p99"] or 0
    completion_p99 = summary["completion_s"]["p99"] or 0
    drained = summary.get("drained_after_s")
    figures = {
        "answers_by_status": dict(statuses),
        "refusals_with_retry_after": sum("Retry-After=" in r.error for r in refused),
        "refusals": len(refused),
        "other_errors": len(places) - len(accepted) - len(refused),
        "placement_p99_ms": p99,
        "goodput_per_second": goodput,
        "max_sustained_per_second": max_sustained,
        "goodput_share": round(goodput / max_sustained, 3) if max_sustained else None,
        "completion_p99_s": completion_p99,
        "admission_bound_s": bound_s,
        "accepted_failed_for_timeout": timeouts,
        "refunded_without_cancel": len(refunded - cancelled),
        "divergences_on_its_orders": divergences,
        "drained_after_s": drained,
    }
    figures["holds"] = {
        "only 202 and refusals with Retry-After": figures["other_errors"] == 0
        and figures["refusals_with_retry_after"] == len(refused),
        f"placement p99 < {MAX_PLACEMENT_P99_MS} ms": p99 < MAX_PLACEMENT_P99_MS,
        f"goodput >= {MIN_GOODPUT_SHARE:.0%} of the maximum sustained": bool(max_sustained)
        and goodput >= MIN_GOODPUT_SHARE * max_sustained,
        f"completion p99 <= bound + {COMPLETION_MARGIN_S} s": completion_p99 <= bound_s + COMPLETION_MARGIN_S,
        "no accepted order failed for timeout": timeouts == 0,
        "nothing refunded without a cancel": figures["refunded_without_cancel"] == 0,
        "no divergence on its orders": not divergences,
        f"drained within {MAX_DRAIN_S} s": drained is not None and drained <= MAX_DRAIN_S,
    }
    return figures


def _count(service: str, sql: str, ids: list[str]) -> int:
    return stack.query(service, sql, [ids])[0][0]
