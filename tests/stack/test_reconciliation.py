"""Reconciliation over the running stack: for each rule, make the divergence for real (tamper with
a service's database, lose an event, stop a consumer), run a sweep, see it detected, see it
fixed, and see the next audit close it.

Sweeps here audit only the test's own orders (`order_ids`) with no settle time, so the stack's
own scheduled sweep and other tests' orders never get in the way. A change is auditable once the
horizon passed it (its events can have reached every side: a second or two in a quiet stack), so
a test sweeps until it is.
"""

import os
import subprocess
import sys
import urllib.request
import uuid
from datetime import UTC, datetime

import psycopg2
import pytest

from tests.stack.client import call, customer, outcome, payments, place, product, staff_token, stock
from tests.stack.conftest import ROOT, ctl, database_url, event_workers, service_url, wait_until


def sql(service: str, query: str, *params):
    with psycopg2.connect(database_url(service)) as connection, connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def reconcile(*order_ids: str) -> dict:
    status, body = call(
        "POST",
        f"{service_url('reconciliation')}/api/v1/reconcile",
        {"order_ids": list(order_ids), "settle_seconds": 0},
        token=staff_token("reconciliation"),
    )
    assert status == 200, body
    return body


def divergences(order_id: str = "", status: str = "") -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in (("order_id", order_id), ("status", status)) if v)
    code, body = call(
        "GET",
        f"{service_url('reconciliation')}/api/v1/divergences?{query}",
        token=staff_token("reconciliation"),
    )
    assert code == 200, body
    return body


def detected(order_id: str, kind: str, *more_kinds: str, timeout: float = 30) -> dict | list[dict]:
    """Sweep until the order's last change is auditable (its events can have reached every side:
    the horizon passed it, a second or two in a quiet stack); the divergence of each kind the
    sweep found for the order (it may be fixed already)."""
    wanted = (kind, *more_kinds)

    def found_all():
        result = reconcile(order_id)
        assert result["error"] == "", result
        seen = [d for d in result["divergences"] if d["order_id"] == order_id]
        if not seen:
            return None  # not yet auditable
        found = []
        for each in wanted:
            matches = [d for d in seen if d["kind"] == each]
            assert len(matches) == 1, seen
            found.append(matches[0])
        return found

    found = wait_until(found_all, timeout=timeout, interval=0.5, message=f"the audit of order {order_id}")
    return found if more_kinds else found[0]


def closed(divergence_id: int, order_id: str, timeout: float = 60) -> dict:
    """Sweep until the audit closes the divergence; its final record."""

    def gone():
        reconcile(order_id)
        match = [d for d in divergences() if d["id"] == divergence_id]
        return match[0] if match and match[0]["status"] != "open" else None

    return wait_until(gone, timeout=timeout, interval=0.5, message=f"divergence {divergence_id} to close")


def completed_order(quantity: int = 2, stock_on_hand: int = 10, price: str = "3.00") -> tuple[str, str, str]:
    token, sku = customer(), product(stock=stock_on_hand, price=price)
    order = place(token, sku, quantity=quantity)
    assert outcome(token, order["order_id"])["status"] == "completed"
    wait_until(
        lambda: _projected(order["order_id"]), timeout=30, message="the projection to see the order end"
    )
    return token, sku, order["order_id"]


def _projected(order_id: str) -> bool:
    rows = sql(
        "reconciliation", "SELECT ended_at FROM reconciliation_ordersaga WHERE order_id = %s", order_id
    )
    return bool(rows and rows[0][0])


def declined_order(quantity: int, stock_on_hand: int) -> tuple[str, str]:
    """An order failed by a declined card, once inventory has done with it: the stock released on
    the declined payment and the OrderFailed that follows applied too (a no-op then, but one
    that would release again stock a test holds by hand before it arrives)."""
    token, sku = customer(), product(stock=stock_on_hand)
    order_id = place(token, sku, quantity=quantity, card="tok_chargeDeclined")["order_id"]
    assert outcome(token, order_id)["failure_reason"] == "payment_declined"
    wait_until(
        lambda: stock(sku) == (stock_on_hand, 0),
        timeout=30,
        message="the declined order's stock to be released",
    )
    wait_until(
        lambda: sql(
            "inventory",
            "SELECT 1 FROM events_inboxevent WHERE aggregate_id = %s AND event_type = 'OrderFailed'",
            order_id,
        ),
        timeout=30,
        message="inventory to apply the OrderFailed",
    )
    return sku, order_id


def test_a_consistent_order_has_no_divergence():
    _, _, order_id = completed_order()
    completed_by = datetime.now(UTC)

    # once the audit can judge the order (the horizon passed its completion)
    result = wait_until(
        lambda: (
            (r := reconcile(order_id)) and datetime.fromisoformat(r["audited_until"]) > completed_by and r
        ),
        timeout=30,
        interval=0.5,
        message="the horizon to pass the order's completion",
    )

    assert result["orders_audited"] == 1 and result["error"] == ""
    assert divergences(order_id) == []


def test_a_payment_captured_for_a_failed_order_is_refunded_automatically():
    # Given a completed order the orders database then says failed (an update applied wrongly)
    _, sku, order_id = completed_order(quantity=2)
    sql(
        "orders",
        "UPDATE orders_order SET status = 'failed', failure_reason = 'timeout' WHERE order_id = %s",
        order_id,
    )

    # When a sweep audits it
    charged, shipped = detected(order_id, "charged_not_completed", "committed_not_completed")

    # Then both fixes are sent by themselves, the services repair their own data, and the next
    # audit closes the divergences
    assert charged["suggested_fix"] == "refund_payment" and charged["fix_requested_at"]
    assert shipped["suggested_fix"] == "release_reservation"
    assert closed(charged["id"], order_id)["status"] == "auto_resolved"
    assert closed(shipped["id"], order_id)["status"] == "auto_resolved"
    assert [p["status"] for p in payments(order_id)] == ["refunded"]
    assert stock(sku) == (10, 0)


def test_stock_still_held_for_a_declined_order_is_released_automatically():
    # Given a declined order whose reservation the inventory database says is still held
    sku, order_id = declined_order(quantity=3, stock_on_hand=5)
    sql("inventory", "UPDATE inventory_reservation SET status = 'held' WHERE order_id = %s", order_id)
    sql("inventory", "UPDATE inventory_product SET reserved_quantity = 3 WHERE sku = %s", sku)

    divergence = detected(order_id, "held_for_ended_order")

    assert divergence["suggested_fix"] == "release_reservation"
    assert closed(divergence["id"], order_id)["status"] == "auto_resolved"
    assert stock(sku) == (5, 0)


def test_a_completed_order_whose_stock_was_not_shipped_gets_it_committed():
    _, sku, order_id = completed_order(quantity=2)
    # The commit undone: units back on hand and held.
    sql("inventory", "UPDATE inventory_reservation SET status = 'held' WHERE order_id = %s", order_id)
    sql(
        "inventory",
        "UPDATE inventory_product SET stock_quantity = 10, reserved_quantity = 2 WHERE sku = %s",
        sku,
    )

    divergence = detected(order_id, "completed_not_committed")

    assert divergence["suggested_fix"] == "commit_reservation"
    assert closed(divergence["id"], order_id)["status"] == "auto_resolved"
    assert stock(sku) == (8, 0)


def test_a_completed_order_without_a_captured_payment_waits_for_a_person():
    # Given a completed order whose payment the payments database says was declined
    _, _, order_id = completed_order()
    sql("payments", "UPDATE payments_payment SET status = 'declined' WHERE order_id = %s", order_id)

    # When a sweep finds it, nothing is done by itself: money needs a person
    divergence = detected(order_id, "completed_unpaid")
    assert divergence["suggested_fix"] == "manual" and divergence["fix_requested_at"] is None

    # And once support repairs the payment in its own service, the next audit closes it as resolved
    sql("payments", "UPDATE payments_payment SET status = 'captured' WHERE order_id = %s", order_id)
    assert closed(divergence["id"], order_id)["status"] == "resolved"


def test_a_payment_amount_that_differs_from_the_order_total_is_reported():
    _, _, order_id = completed_order(quantity=2, price="3.00")
    sql("payments", "UPDATE payments_payment SET amount = 5.00 WHERE order_id = %s", order_id)

    divergence = detected(order_id, "amount_mismatch")

    assert divergence["suggested_fix"] == "manual"
    sql("payments", "UPDATE payments_payment SET amount = 6.00 WHERE order_id = %s", order_id)
    assert closed(divergence["id"], order_id)["status"] == "resolved"


def test_a_reserved_counter_that_drifted_from_the_reservations_is_recounted():
    _, sku, order_id = completed_order(quantity=1)
    sql("inventory", "UPDATE inventory_product SET reserved_quantity = 4 WHERE sku = %s", sku)

    reconcile(order_id)
    [divergence] = [d for d in divergences(status="open") if d["subject"] == f"product {sku}"]

    assert divergence["kind"] == "reserved_count_mismatch"
    wait_until(lambda: stock(sku) == (9, 0), timeout=30, message="inventory to recount the reserved units")
    assert closed(divergence["id"], order_id)["status"] == "auto_resolved"


def test_an_event_lost_on_its_way_to_the_projection_is_sent_again():
    # Given the projection never received the order's OrderCompleted (the step and the inbox row
    # that would deduplicate it are gone, as if the delivery was lost)
    _, _, order_id = completed_order()
    [(event_id,)] = sql(
        "reconciliation",
        "DELETE FROM reconciliation_sagastep WHERE saga_id = %s AND event_type = 'OrderCompleted'"
        " RETURNING event_id",
        order_id,
    )
    sql("reconciliation", "DELETE FROM events_inboxevent WHERE event_id = %s", event_id)

    # When a sweep looks at the order's events, it sees the gap and asks orders to send them again
    divergence = detected(order_id, "event_gap")
    assert divergence["subject"] == f"order {order_id} events from orders"

    # Then the event arrives again and the next audit closes the gap
    wait_until(
        lambda: sql("reconciliation", "SELECT 1 FROM reconciliation_sagastep WHERE event_id = %s", event_id),
        timeout=30,
        message="the lost event to be sent again",
    )
    assert closed(divergence["id"], order_id)["status"] == "auto_resolved"


@pytest.fixture
def inventory_consumer_and_orders_timeout_stopped():
    workers = event_workers("inventory")
    ctl("stop", *workers, "app:beat-orders")
    yield
    ctl("start", *workers, "app:beat-orders")


def test_a_stuck_order_is_failed_and_compensated(inventory_consumer_and_orders_timeout_stopped):
    # Given an order stuck in pending (inventory never answered) past its SLA
    token, sku = customer(), product(stock=5)
    order_id = place(token, sku, quantity=1)["order_id"]
    sql(
        "orders",
        "UPDATE orders_order SET created_at = created_at - interval '1 hour' WHERE order_id = %s",
        order_id,
    )

    # When a sweep finds it, it fails the order by itself
    divergence = detected(order_id, "stuck_order")
    assert divergence["suggested_fix"] == "fail_order"
    assert outcome(token, order_id)["status"] == "failed"

    # Then, once inventory is back, the saga compensates and the audit closes the divergence
    ctl("start", *event_workers("inventory"))
    assert closed(divergence["id"], order_id)["status"] == "auto_resolved"
    wait_until(lambda: stock(sku) == (5, 0), timeout=30, message="the stock to be released")
    assert [p["status"] for p in payments(order_id)] == ["voided"]


NON_STAFF_PASSWORD = "not staff, never"


def non_staff_user() -> tuple[str, str]:
    """A user of the reconciliation service who is not staff: (username, token); the password is
    NON_STAFF_PASSWORD."""
    username = f"user-{uuid.uuid4().hex[:8]}"
    code = (
        "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
        f"user = get_user_model().objects.create_user({username!r}, password={NON_STAFF_PASSWORD!r}); "
        "print(Token.objects.create(user=user))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code],
        cwd=ROOT,
        env=os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings.reconciliation",
            "DATABASE_URL": database_url("reconciliation"),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return username, result.stdout.strip()


def test_reconciliation_is_for_staff_only():
    url = service_url("reconciliation")
    _, user_token = non_staff_user()

    assert call("GET", f"{url}/api/v1/divergences")[0] == 401
    assert call("POST", f"{url}/api/v1/reconcile", {})[0] == 401
    assert call("GET", f"{url}/api/v1/divergences", token=user_token)[0] == 403
    assert call("POST", f"{url}/api/v1/reconcile", {}, token=user_token)[0] == 403
    # A token of the orders service, even staff's, means nothing here.
    assert call("GET", f"{url}/api/v1/divergences", token=customer())[0] == 401
    assert call("GET", f"{url}/api/v1/divergences", token=staff_token("orders"))[0] == 401


@pytest.mark.parametrize("service", ["orders", "inventory", "payments"])
def test_the_internal_state_apis_answer_only_a_service_with_its_key(service):
    url = f"{service_url(service)}/internal/v1/state"
    query = {"order_ids": ["00000000-0000-0000-0000-000000000000"]}

    assert call("POST", url, query)[0] == 401
    assert call("POST", url, query, token=staff_token(service))[0] == 401  # staff tokens open nothing here
    assert call("POST", url, query, headers={"Authorization": "Service reconciliation:wrong"})[0] == 401
    status, body = call(
        "POST", url, query, headers={"Authorization": "Service reconciliation:local-stack-reconciliation-key"}
    )
    assert status == 200 and body["service"] == service


def test_reconciliation_metrics_report_divergences_and_sagas():
    _, _, order_id = completed_order()
    reconcile(order_id)

    status_line, text = _metrics()

    assert status_line == 200
    for name in (
        "reconciliation_saga_completion_seconds_bucket",
        "reconciliation_orders_pending",
        "reconciliation_last_sweep_timestamp_seconds",
    ):
        assert name in text, name


def _metrics() -> tuple[int, str]:
    with urllib.request.urlopen(f"{service_url('reconciliation')}/metrics", timeout=10) as response:
        return response.status, response.read().decode()
