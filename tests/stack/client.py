"""A client of the running stack's APIs for the stack tests: customers, products, orders and
what the staff APIs say of them."""

import json
import urllib.error
import urllib.request
import uuid
from functools import cache

from bench import stack
from tests.stack.conftest import service_url, wait_until

TERMINAL = {"completed", "failed", "cancelled"}


def call(method: str, url: str, body=None, token: str | None = None, headers=None) -> tuple[int, dict | list]:
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@cache
def staff_token(service: str) -> str:
    """The local admin's token in `service` (bench.stack makes it, as an operator would), once."""
    return stack.staff_token(service)


def customer() -> str:
    status, body = call(
        "POST",
        f"{service_url('orders')}/api/v1/auth/register",
        {"username": f"c-{uuid.uuid4().hex[:10]}", "password": "correct horse battery"},
    )
    assert status == 201, body
    return body["token"]


def product(stock: int, price: str = "5.00") -> str:
    """A new product in inventory, once the orders catalog has it."""
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    status, body = call(
        "PUT",
        f"{service_url('inventory')}/api/v1/products/{sku}",
        {"name": sku, "price": price, "stock_quantity": stock},
        token=staff_token("inventory"),
    )
    assert status == 201, body
    wait_until(
        lambda: any(p["sku"] == sku for p in call("GET", f"{service_url('orders')}/api/v1/products")[1]),
        timeout=30,
        message=f"{sku} to reach the orders catalog",
    )
    return sku


def place(token: str, sku: str, quantity: int = 1, card: str = "tok_visa") -> dict:
    status, body = call(
        "POST",
        f"{service_url('orders')}/api/v1/orders",
        {"items": [{"sku": sku, "quantity": quantity}], "payment_token": card},
        token=token,
    )
    assert status == 202, body
    assert body["status"] == "pending"
    return body


def outcome(token: str, order_id: str, timeout: float = 30) -> dict:
    def terminal():
        status, body = call("GET", f"{service_url('orders')}/api/v1/orders/{order_id}", token=token)
        return body if status == 200 and body["status"] in TERMINAL else None

    return wait_until(terminal, timeout=timeout, message=f"order {order_id} to finish")


def stock(sku: str) -> tuple[int, int]:
    _, body = call("GET", f"{service_url('inventory')}/api/v1/products/{sku}", token=staff_token("inventory"))
    return body["stock_quantity"], body["reserved"]


def payments(order_id: str) -> list[dict]:
    _, body = call(
        "GET", f"{service_url('payments')}/api/v1/payments?order_id={order_id}", token=staff_token("payments")
    )
    return body
