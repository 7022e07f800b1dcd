"""The order saga end to end, over HTTP, across the running services and their own databases."""

import json
import os
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
from celery import Celery

from tests.stack.client import call, customer, outcome, payments, place, product, stock
from tests.stack.conftest import ctl, database_url, event_workers, service_url, wait_until


def test_an_order_completes_stock_is_shipped_and_the_payment_captured():
    token, sku = customer(), product(stock=5, price="7.25")

    order = place(token, sku, quantity=2)
    done = outcome(token, order["order_id"])

    assert (done["status"], done["failure_reason"], done["total_amount"]) == ("completed", "", "14.50")
    assert [h["status"] for h in done["history"]] == ["pending", "completed"]
    # inventory commits the sold units when OrderCompleted reaches it, just after the order completes
    wait_until(lambda: stock(sku) == (3, 0), timeout=30, message="the two sold units to leave the stock")
    assert [(p["status"], p["amount"]) for p in payments(order["order_id"])] == [("captured", "14.50")]


def test_an_order_for_more_than_is_in_stock_fails_and_nothing_is_charged():
    token, sku = customer(), product(stock=1)

    order = place(token, sku, quantity=2)
    done = outcome(token, order["order_id"])

    assert (done["status"], done["failure_reason"]) == ("failed", "out_of_stock")
    assert stock(sku) == (1, 0)
    wait_until(
        lambda: [p["status"] for p in payments(order["order_id"])] == ["voided"],
        timeout=30,
        message="the payment to be voided",
    )


def test_a_declined_card_fails_the_order_and_releases_its_stock():
    token, sku = customer(), product(stock=3)

    order = place(token, sku, quantity=2, card="tok_chargeDeclinedInsufficientFunds")
    done = outcome(token, order["order_id"])

    assert (done["status"], done["failure_reason"]) == ("failed", "payment_declined")
    wait_until(lambda: stock(sku) == (3, 0), timeout=30, message="the stock to be released")
    assert [p["status"] for p in payments(order["order_id"])] == ["declined"]


def test_an_order_cancelled_while_pending_releases_its_stock_and_is_never_charged():
    token, sku = customer(), product(stock=3)
    ctl("stop", *event_workers("inventory"))  # hold the saga at its first step
    try:
        order = place(token, sku, quantity=2)
        status, body = call(
            "POST", f"{service_url('orders')}/api/v1/orders/{order['order_id']}/cancel", token=token
        )
        assert (status, body["status"]) == (202, "cancelled")
    finally:
        ctl("start", *event_workers("inventory"))

    wait_until(
        lambda: [p["status"] for p in payments(order["order_id"])] == ["voided"],
        timeout=60,
        message="the payment to be voided",
    )
    wait_until(lambda: stock(sku) == (3, 0), timeout=60, message="the stock to be back")
    status, body = call(
        "POST", f"{service_url('orders')}/api/v1/orders/{order['order_id']}/cancel", token=token
    )
    assert status == 409


def test_fifty_concurrent_orders_for_ten_units_complete_exactly_ten():
    sku = product(stock=10)
    tokens = [customer() for _ in range(5)]

    with ThreadPoolExecutor(max_workers=10) as pool:
        orders = list(pool.map(lambda i: (tokens[i % 5], place(tokens[i % 5], sku)["order_id"]), range(50)))
        outcomes = list(pool.map(lambda pair: outcome(*pair, timeout=90)["status"], orders))

    assert outcomes.count("completed") == 10
    assert outcomes.count("failed") == 40
    # inventory commits the sold units when OrderCompleted reaches it, just after the order completes
    wait_until(lambda: stock(sku) == (0, 0), timeout=30, message="the ten sold units to leave the stock")
    captured = [p for _, order_id in orders for p in payments(order_id) if p["status"] == "captured"]
    assert len(captured) == 10


@pytest.mark.parametrize("service", ["orders", "inventory", "payments"])
def test_no_dead_letters_were_left_by_the_saga(service):
    from tests.stack.test_services import get

    _, metrics = get(f"{service_url(service)}/metrics")
    open_dead = [line for line in metrics.splitlines() if line.startswith("events_dead_letters_open{")]
    assert not [line for line in open_dead if not line.endswith(" 0.0")], open_dead


def stage_stalled(service: str) -> bool:
    """Whether the orders service's watcher sees `service`'s consumers stalled: events waiting and
    no progress for PIPELINE_STALL_SECONDS (an outage, not a backlog)."""
    with psycopg2.connect(database_url("orders")) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT backlog > 0 AND measured_at - progressed_at > %s * interval '1 second'"
            " FROM events_pipelinestage WHERE name = %s",
            [int(os.environ.get("PIPELINE_STALL_SECONDS", "15")), f"consumer:{service}"],
        )
        row = cursor.fetchone()
    conn.close()
    return bool(row and row[0])


def backdate(order_id: str, minutes: int) -> None:
    with psycopg2.connect(database_url("orders")) as conn, conn.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_order SET created_at = now() - %s * interval '1 minute' WHERE order_id = %s",
            [minutes, order_id],
        )
    conn.close()


def fail_stuck_orders_now() -> None:
    """The sweep that beat runs every 30 s, run now in the orders service's Celery worker."""
    Celery(broker=os.environ["REDIS_URL"]).send_task("orders.tasks.orders_fail_stuck", queue="orders")


@pytest.mark.parametrize("participant", ["inventory", "payments"])
def test_an_order_a_stopped_participant_holds_past_its_timeout_is_failed_and_compensated(participant):
    token, sku = customer(), product(stock=3)
    ctl("stop", *event_workers(participant))  # the saga stalls at that participant's step
    try:
        order = place(token, sku, quantity=2)
        if participant == "payments":
            wait_until(lambda: stock(sku) == (3, 2), timeout=30, message="inventory to hold the stock")
        # given it has been pending for ten minutes (longer than ORDERS_PENDING_TIMEOUT_SECONDS),
        # and the participant's consumers make no progress: a dead participant, not a backlog
        backdate(order["order_id"], minutes=10)
        wait_until(
            lambda: stage_stalled(participant), timeout=60, message=f"{participant} to count as stalled"
        )
        # when
        fail_stuck_orders_now()
        done = outcome(token, order["order_id"])
    finally:
        ctl("start", *event_workers(participant))

    assert (done["status"], done["failure_reason"]) == ("failed", "timeout")
    # inventory releases on OrderFailed (reserving first if it had not); payments never captures
    wait_until(lambda: stock(sku) == (3, 0), timeout=60, message="the stock to be released")
    wait_until(
        lambda: [p["status"] for p in payments(order["order_id"])] in (["voided"], ["refunded"]),
        timeout=60,
        message="the payment to be voided (or refunded)",
    )


def test_an_order_behind_a_backlog_is_not_failed_for_timeout():
    token, sku = customer(), product(stock=3)
    ctl("stop", "app:watch-orders", *event_workers("inventory"))
    try:
        old, older = place(token, sku, quantity=1), place(token, sku, quantity=1)
        # given inventory's consumers working 15 minutes behind, as the orders service measured it
        # (held still: its watcher is stopped), and then two orders pending for 10 and 30 minutes
        # (in that order: a scheduled orders_fail_stuck between the two would see no backlog)
        with psycopg2.connect(database_url("orders")) as conn, conn.cursor() as cursor:
            cursor.execute(
                "UPDATE events_pipelinestage SET delay_seconds = 0, backlog = 0,"
                " progressed_at = now() + interval '5 minutes', measured_at = now() + interval '5 minutes'"
            )
            cursor.execute(
                "UPDATE events_pipelinestage SET delay_seconds = 900, backlog = 2"
                " WHERE name = 'consumer:inventory'"
            )
        conn.close()
        backdate(old["order_id"], minutes=10)
        backdate(older["order_id"], minutes=30)
        # when
        fail_stuck_orders_now()
        # then the order older than the deadline plus the backlog fails; the other one waits
        assert outcome(token, older["order_id"])["failure_reason"] == "timeout"
        _, still = call("GET", f"{service_url('orders')}/api/v1/orders/{old['order_id']}", token=token)
        assert still["status"] == "pending"
    finally:
        # the order's age was faked to test the deadline: give it back, so that a scheduled
        # orders_fail_stuck while inventory's workers rejoin their group cannot time it out
        backdate(old["order_id"], minutes=0)
        ctl("start", "app:watch-orders", *event_workers("inventory"))
    assert outcome(token, old["order_id"])["status"] == "completed"


def kafka_programs() -> list[str]:
    nodes = int(os.environ.get("KAFKA_NODES", "1"))
    return ["infra:kafka"] if nodes == 1 else [f"infra:kafka-{node}" for node in range(1, nodes + 1)]


def test_an_order_placed_while_kafka_is_down_is_accepted_and_completes_once_it_is_back():
    from tests.stack.test_services import get

    token, sku = customer(), product(stock=3, price="4.00")
    ctl("stop", *kafka_programs())
    try:
        # the orders web process stays in service: ready for traffic, degraded, and saying why
        status, body = get(f"{service_url('orders')}/readyz")
        assert status == 200
        assert json.loads(body)["status"] == "degraded"
        assert json.loads(body)["checks"]["kafka"] != "ok"

        order = place(token, sku, quantity=2)  # 202: the OrderCreated event waits in the outbox
    finally:
        ctl("start", *kafka_programs())

    done = outcome(token, order["order_id"], timeout=180)
    assert (done["status"], done["total_amount"]) == ("completed", "8.00")
    wait_until(lambda: stock(sku) == (1, 0), timeout=60, message="the two sold units to leave the stock")
    for service in ("orders", "inventory", "payments", "reconciliation"):
        wait_until(
            lambda service=service: json.loads(get(f"{service_url(service)}/readyz")[1])["status"] == "ready",
            timeout=60,
            message=f"{service} to be ready again",
        )
