"""Admission control over real HTTP: placement refuses new orders while as many are pending as the
door's limit, answering 503 with Retry-After and writing nothing, never refuses reads, and takes
every order again once the pending ones are done; a burst on an idle stack is no overload."""

import json
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from bench.stack import query
from tests.stack.client import call, customer, product
from tests.stack.conftest import ctl, database_url, service_url, wait_until


def place(token: str, sku: str) -> tuple[int, dict, dict]:
    """POST one order; its status, headers and body."""
    request = urllib.request.Request(
        f"{service_url('orders')}/api/v1/orders",
        method="POST",
        data=json.dumps({"items": [{"sku": sku, "quantity": 1}], "payment_token": "tok_visa"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def saga_measured_moving() -> None:
    """The orders service's measurements of the saga's path, as its watcher would store them,
    fresh and moving for five minutes with nothing waiting: no outage lifts the door's limit."""
    with psycopg2.connect(database_url("orders")) as conn, conn.cursor() as cursor:
        cursor.execute(
            "UPDATE events_pipelinestage SET delay_seconds = 0, backlog = 0,"
            " progressed_at = now() + interval '5 minutes', measured_at = now() + interval '5 minutes'"
        )
    conn.close()


def saga_overloaded(count: int) -> list[str]:
    """A saga far behind, as the door reads it, for the next five minutes, written straight into
    the orders table: `count` orders just placed and pending, and as many that finished taking
    1.9 s (over the door's 1 s target, within its 2 s horizon); their ids."""
    with psycopg2.connect(database_url("orders")) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id FROM auth_user WHERE username = %s", [stack_admin()])
        (customer_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO orders_order (order_id, customer_id, status, total_amount, currency, failure_reason,"
            " version, request_fingerprint, created_at, updated_at)"
            " SELECT gen_random_uuid(), %s, status, 1, 'EUR', '', 1, '', at - interval '1.9 seconds', at"
            " FROM generate_series(1, %s),"
            " (VALUES ('pending', now() + interval '5 minutes 1.9 seconds'),"
            " ('completed', now() + interval '5 minutes')) AS orders (status, at)"
            " RETURNING order_id::text",
            [customer_id, count],
        )
        ids = [row[0] for row in cursor.fetchall()]
    conn.close()
    return ids


def orders_removed(ids: list[str]) -> None:
    with psycopg2.connect(database_url("orders")) as conn, conn.cursor() as cursor:
        cursor.execute("DELETE FROM orders_order WHERE order_id = ANY(%s::uuid[])", [ids])
    conn.close()
    with psycopg2.connect(database_url("reconciliation")) as conn, conn.cursor() as cursor:
        # what a sweep may have found of them meanwhile (orders no other service knew)
        cursor.execute(
            "DELETE FROM reconciliation_divergenceaction WHERE divergence_id IN"
            " (SELECT id FROM reconciliation_divergence WHERE order_id = ANY(%s))",
            [ids],
        )
        cursor.execute("DELETE FROM reconciliation_divergence WHERE order_id = ANY(%s)", [ids])
    conn.close()


def stack_admin() -> str:
    return os.environ.get("OMS_ADMIN_USER", "admin")


@pytest.fixture
def watcher_stopped():
    """The orders service's watcher stopped, so that the test's measurements stand."""
    ctl("stop", "app:watch-orders")
    yield
    ctl("start", "app:watch-orders")


def test_placement_refuses_while_the_saga_is_full_and_takes_every_order_once_it_is_done(watcher_stopped):
    token, sku = customer(), product(stock=1000)
    answers = []

    def placed() -> tuple[int, dict, dict]:
        answers.append(place(token, sku))
        return answers[-1]

    # given more orders pending than any limit lets in, and those finishing late (the door's limit
    # falls at each refresh; within ORDERS_ADMISSION_GRACE_SECONDS of an outage another test made,
    # the limit is lifted, and the test waits that out)
    saga_measured_moving()
    backlog = saga_overloaded(6000)
    try:
        status, headers, body = wait_until(
            lambda: (a := placed())[0] == 503 and a, timeout=45, interval=0.1, message="a refusal"
        )

        # then the refusal says when to come back and that nothing was written, and reads go on
        assert int(headers["Retry-After"]) == 1
        assert "nothing was written" in body["detail"]
        assert call("GET", f"{service_url('orders')}/api/v1/orders", token=token)[0] == 200
    finally:
        # when those orders are done, every order is taken again within seconds
        orders_removed(backlog)
    wait_until(
        lambda: all(placed()[0] == 202 for _ in range(10)), timeout=30, message="ten orders in a row taken"
    )

    # and only the accepted ones exist
    accepted = sum(1 for status, _, _ in answers if status == 202)
    _, listed = call("GET", f"{service_url('orders')}/api/v1/orders?page_size=100", token=token)
    assert (listed["count"], {s for s, _, _ in answers}) == (accepted, {202, 503})


def orders_connections() -> int:
    """Connections open to the orders database as its service's role."""
    [(count,)] = query("orders", "SELECT count(*) FROM pg_stat_activity WHERE usename = current_user")
    return count - 1  # the query's own


def test_web_workers_just_started_hold_a_database_connection_per_thread():
    # given the orders web processes restarted, and not a request sent to them
    token, sku = customer(), product(stock=10)
    ctl("restart", "app:web-orders")
    threads = int(os.environ["ORDERS_WEB_WORKERS"]) * int(os.environ["ORDERS_WEB_THREADS"])

    # then every thread has its connection (the burst below does not wait for handshakes)
    wait_until(lambda: orders_connections() >= threads, timeout=60, message=f"{threads} connections")
    wait_until(lambda: place(token, sku)[0] == 202, timeout=60, message="an order taken")


def test_a_burst_of_60_orders_from_30_customers_on_an_idle_stack_is_taken_whole():
    tokens, sku = [customer() for _ in range(30)], product(stock=1000)

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda n: place(tokens[n % 30], sku), range(60)))

    refused = [(status, body.get("detail")) for status, _, body in answers if status != 202]
    assert not refused, refused
