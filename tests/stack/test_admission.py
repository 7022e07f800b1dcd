"""Admission control over real HTTP: placement sheds new orders while the saga is measured too far
behind, answering 503 with Retry-After and writing nothing, never refuses reads, and takes every
order again once the saga caught up; a burst on an idle stack is no overload."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

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


def test_a_burst_of_60_orders_from_30_customers_on_an_idle_stack_is_taken_whole():
    # (first in this module: the test after it closes the door, which then reopens a step at a time)
    tokens, sku = [customer() for _ in range(30)], product(stock=1000)

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda n: place(tokens[n % 30], sku), range(60)))

    refused = [(status, body.get("detail")) for status, _, body in answers if status != 202]
    assert not refused, refused


def saga_measured(inventory_behind: float) -> None:
    """The orders service's measurements of the saga's path, as its watcher would store them,
    fresh for five minutes: inventory's consumers this far behind (working), the rest caught up."""
    with psycopg2.connect(database_url("orders")) as conn, conn.cursor() as cursor:
        cursor.execute(
            "UPDATE events_pipelinestage SET delay_seconds = 0, backlog = 0,"
            " progressed_at = now() + interval '5 minutes', measured_at = now() + interval '5 minutes'"
        )
        cursor.execute(
            "UPDATE events_pipelinestage SET delay_seconds = %s, backlog = %s"
            " WHERE name = 'consumer:inventory'",
            [inventory_behind, 100 if inventory_behind else 0],
        )
    conn.close()


@pytest.fixture
def watcher_stopped():
    """The orders service's watcher stopped, so that the test's measurements stand."""
    ctl("stop", "app:watch-orders")
    yield
    ctl("start", "app:watch-orders")


def test_placement_sheds_while_the_saga_is_behind_and_takes_every_order_once_it_caught_up(watcher_stopped):
    token, sku = customer(), product(stock=1000)
    answers = []

    def placed() -> tuple[int, dict, dict]:
        answers.append(place(token, sku))
        return answers[-1]

    # given inventory measured a minute behind, and moving: the door's share falls at each refresh
    # (within ORDERS_ADMISSION_GRACE_SECONDS of an outage another test made, it waits that out)
    saga_measured(60.0)
    status, headers, body = wait_until(
        lambda: (a := placed())[0] == 503 and a, timeout=45, interval=0.1, message="a refusal"
    )

    # then the refusal says when to come back and that nothing was written, and reads go on
    assert 1 <= int(headers["Retry-After"]) <= 30
    assert "nothing was written" in body["detail"]
    assert call("GET", f"{service_url('orders')}/api/v1/orders", token=token)[0] == 200

    # when inventory caught up, every order is taken again within seconds
    saga_measured(0.0)
    wait_until(
        lambda: all(placed()[0] == 202 for _ in range(10)), timeout=30, message="ten orders in a row taken"
    )

    # and only the accepted ones exist
    accepted = sum(1 for status, _, _ in answers if status == 202)
    _, listed = call("GET", f"{service_url('orders')}/api/v1/orders?page_size=100", token=token)
    assert (listed["count"], {s for s, _, _ in answers}) == (accepted, {202, 503})
