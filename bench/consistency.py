"""After the load: wait for the system to settle, then check that the services agree.

Settled means every accepted order is terminal and no event waits anywhere (outboxes published,
consumer groups caught up). Then, from each service's own database:
- orders: none lost (every accepted order exists and is terminal);
- inventory: each product's stock is its starting stock less the units of completed orders,
  nothing stays reserved, no unit is sold twice; each completed order's reservation is
  committed, every other one released;
- payments: each completed order is captured for its total; nothing else is (a declined card,
  a refunded or voided payment, or none); and the card gateway's own ledger (GET /_ledger of the
  simulator, which no rollback of ours reaches) holds, for each completed order, exactly one
  succeeded charge and a net charge of its total, and for every other order a net of zero;
and reconciliation, asked to audit the run's window, finds nothing and has nothing open.
"""

import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from bench import stack

TERMINAL = ("completed", "failed", "cancelled")


def settle(skus: list[str], sampler: stack.Sampler, timeout: float) -> float | None:
    """Seconds until every order of `skus` is terminal and no event waits, or None after `timeout`."""
    started = time.monotonic()
    order_ids = None  # once read: the load has stopped, no new order of these products comes
    while time.monotonic() - started < timeout:
        try:
            order_ids = order_ids if order_ids is not None else _order_ids(skus)
        except stack.psycopg2.Error:  # the database is still coming back
            time.sleep(0.5)
            continue
        open_orders = _count_open(order_ids)
        backlog = _backlog(sampler)
        if open_orders == 0 and backlog == 0 and _count_intents(order_ids) == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def _order_ids(skus: list[str]) -> list[str]:
    rows = stack.query(
        "orders", "SELECT DISTINCT order_id::text FROM orders_orderline WHERE sku = ANY(%s)", [skus]
    )
    return [order_id for (order_id,) in rows]


def _count_open(order_ids: list[str]) -> int | None:
    try:
        rows = stack.query(
            "orders",
            "SELECT count(*) FROM orders_order WHERE order_id = ANY(%s::uuid[]) AND status <> ALL(%s)",
            [order_ids, list(TERMINAL)],
        )
    except stack.psycopg2.Error:
        return None
    return rows[0][0]


def _count_intents(order_ids: list[str]) -> int | None:
    """Charges and refunds committed but not yet answered by the gateway."""
    try:
        rows = stack.query(
            "payments",
            "SELECT count(*) FROM payments_payment"
            " WHERE order_id = ANY(%s) AND status IN ('charging', 'refunding')",
            [order_ids],
        )
    except stack.psycopg2.Error:
        return None
    return rows[0][0]


def _backlog(sampler: stack.Sampler) -> int | None:
    sample = sampler.latest()
    if sample is None:
        return None
    return sum(v for k, v in sample.items() if k.startswith(("outbox.", "lag.")))


def check(*, accepted: list[str], stock: dict[str, int], since: datetime) -> dict:
    """What the services' databases and reconciliation say once settled; `problems` lists every
    disagreement found (empty when consistent).

    The run's orders are every order of its products in the orders database: the accepted ones
    (202) and any whose answer the customer never got (a process killed after its commit)."""
    problems: list[str] = []
    orders = _orders(stock)
    missing = set(accepted) - set(orders)
    if missing:
        problems.append(f"{len(missing)} accepted orders are missing from the orders database (lost)")
    not_terminal = [o for o, row in orders.items() if row["status"] not in TERMINAL]
    if not_terminal:
        problems.append(f"{len(not_terminal)} orders are not terminal, e.g. {not_terminal[0]}")
    problems += _check_stock(orders, stock)
    problems += _check_reservations(orders)
    charges = _check_payments(orders, problems)
    reconciliation = _reconcile(since, set(orders))
    problems += reconciliation.pop("problems")
    return {
        "orders": len(orders),
        "accepted": len(accepted),
        "lost": len(missing),
        "by_status": dict(Counter(row["status"] for row in orders.values())),
        "by_reason": dict(Counter(row["reason"] for row in orders.values() if row["reason"])),
        "double_charges": charges["double"],
        "wrong_net_charges": charges["wrong_net"],
        "oversold_units": sum(max(0, -v) for v in _remaining(orders, stock).values()),
        "reconciliation": reconciliation,
        "problems": problems,
        "consistent": not problems,
    }


def _orders(stock: dict[str, int]) -> dict[str, dict]:
    """Every order of the run's products, with its lines."""
    rows = stack.query(
        "orders",
        """
        SELECT o.order_id::text, o.status, o.failure_reason, o.total_amount, l.sku, l.quantity
        FROM orders_order o JOIN orders_orderline l ON l.order_id = o.order_id
        WHERE o.order_id IN (SELECT order_id FROM orders_orderline WHERE sku = ANY(%s))
        """,
        [list(stock)],
    )
    orders: dict[str, dict] = {}
    for order_id, status, reason, total, sku, quantity in rows:
        order = orders.setdefault(order_id, {"status": status, "reason": reason, "total": total, "lines": {}})
        order["lines"][sku] = order["lines"].get(sku, 0) + quantity
    return orders


def _remaining(orders: dict[str, dict], stock: dict[str, int]) -> dict[str, int]:
    remaining = dict(stock)
    for order in orders.values():
        if order["status"] == "completed":
            for sku, quantity in order["lines"].items():
                remaining[sku] -= quantity
    return remaining


def _check_stock(orders, stock) -> list[str]:
    expected = _remaining(orders, stock)
    rows = stack.query(
        "inventory",
        "SELECT sku, stock_quantity, reserved_quantity FROM inventory_product WHERE sku = ANY(%s)",
        [list(stock)],
    )
    problems = []
    for sku, on_hand, reserved in rows:
        if on_hand != expected[sku]:
            problems.append(f"{sku}: {on_hand} in stock, the completed orders leave {expected[sku]}")
        if reserved:
            problems.append(f"{sku}: {reserved} units still reserved")
    oversold = {sku: -left for sku, left in expected.items() if left < 0}
    if oversold:
        problems.append(f"oversold: {oversold}")
    return problems


def _check_reservations(orders) -> list[str]:
    rows = dict(
        stack.query(
            "inventory",
            "SELECT order_id, status FROM inventory_reservation WHERE order_id = ANY(%s)",
            [list(orders)],
        )
    )
    wrong = Counter()
    for order_id, order in orders.items():
        reservation = rows.get(order_id)
        if order["status"] == "completed" and reservation != "committed":
            wrong[f"completed order with reservation {reservation}"] += 1
        elif order["status"] != "completed" and reservation not in (None, "released"):
            wrong[f"{order['status']} order with reservation {reservation}"] += 1
    return [f"{count} x {what}" for what, count in wrong.items()]


def _check_payments(orders, problems: list[str]) -> dict:
    payments = {
        order_id: (status, amount)
        for order_id, status, amount in stack.query(
            "payments",
            "SELECT order_id, status, amount FROM payments_payment WHERE order_id = ANY(%s)",
            [list(orders)],
        )
    }
    ledger = gateway_ledger(list(orders))
    wrong = Counter()
    for order_id, order in orders.items():
        status, amount = payments.get(order_id, (None, None))
        charges = ledger[order_id]["charges"]
        net = ledger[order_id]["net"]
        if order["status"] == "completed":
            if status != "captured" or amount != order["total"]:
                wrong[f"completed order with payment {status} of {amount}"] += 1
            if charges != 1 or net != order["total"]:
                wrong[f"completed order with {charges} gateway charges netting {net}"] += 1
        else:
            if status in ("captured", "charging", "refunding"):
                wrong[f"{order['status']} order with payment {status}"] += 1
            if net:
                wrong[f"{order['status']} order with a net gateway charge"] += 1
    problems += [f"{count} x {what}" for what, count in wrong.items()]
    return {
        "double": sum(max(0, entry["charges"] - 1) for entry in ledger.values()),
        "wrong_net": sum(
            1
            for order_id, order in orders.items()
            if ledger[order_id]["net"] != (order["total"] if order["status"] == "completed" else 0)
        ),
    }


def gateway_ledger(order_ids: list[str]) -> dict[str, dict]:
    """Per order, from the card gateway's own ledger: its succeeded charges, and what it was
    charged net of refunds."""
    entries = defaultdict(lambda: {"charges": 0, "net": Decimal("0")})
    per_request = 60  # within the request line's 4 KiB
    for start in range(0, len(order_ids), per_request):
        response = stack.requests.get(
            f"{stack.url('card_gateway')}/_ledger",
            params={"order_id": order_ids[start : start + per_request]},
            timeout=60,
        )
        response.raise_for_status()
        for operation in response.json()["data"]:
            if operation["status"] != "succeeded":
                continue
            entry = entries[operation["order_id"]]
            if operation["kind"] == "charge":
                entry["charges"] += 1
                entry["net"] += Decimal(operation["amount"])
            else:
                entry["net"] -= Decimal(operation["amount"])
    return entries


def _reconcile(since: datetime, order_ids: set[str]) -> dict:
    """Ask reconciliation to audit everything that changed since the run began, at once."""
    session = stack.staff_session("reconciliation")
    started = time.monotonic()
    response = session.post(
        f"{stack.url('reconciliation')}/api/v1/reconcile",
        json={"since": since.astimezone(UTC).isoformat(), "settle_seconds": 0},
        timeout=600,
    )
    sweep = response.json()
    seconds = time.monotonic() - started
    open_divergences = session.get(
        f"{stack.url('reconciliation')}/api/v1/divergences", params={"status": "open"}, timeout=60
    ).json()
    ours = [d for d in open_divergences if d.get("order_id") in order_ids]
    problems = []
    if response.status_code != 200:
        problems.append(f"reconciliation's sweep answered {response.status_code}: {sweep}")
    elif sweep["found"]:
        problems.append(f"reconciliation found {sweep['found']} divergences: {sweep['divergences'][:5]}")
    if ours:
        problems.append(f"{len(ours)} divergences open on the run's orders, e.g. {ours[0]}")
    return {
        "orders_audited": sweep.get("orders_audited"),
        "found": sweep.get("found"),
        "open_divergences_of_the_run": len(ours),
        "open_divergences_in_all": len(open_divergences),
        "sweep_seconds": round(seconds, 1),
        "problems": problems,
    }
