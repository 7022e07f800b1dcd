"""The client of the services' internal APIs: what a sweep asks each service for."""

import pytest

from reconciliation import clients


def record(order_id: str) -> dict:
    return {"order_id": order_id, "status": "completed"}


@pytest.fixture
def asked(monkeypatch):
    """Every internal API request made: (service, its body); each answered with a record of every
    order asked for, and a product."""
    calls = []

    def call(method, service, endpoint, body=None):
        calls.append((service, body))
        answer = {clients.RECORDS[service]: [record(i) for i in body.get("order_ids", [])]}
        if service == "inventory" and body.get("products", True):
            answer["products"] = [{"sku": "MUG"}]
        return answer

    monkeypatch.setattr(clients, "_call", call)
    return calls


def test_records_the_window_already_gave_are_not_asked_for_again(asked):
    known = clients.ServiceState(
        {"o1": record("o1"), "o2": record("o2")}, {"o1": record("o1")}, {}, [{"sku": "MUG"}]
    )

    state = clients.state_of_orders(["o1", "o2", "o3"], known=known)

    assert asked == [
        ("orders", {"order_ids": ["o3"], "products": False}),
        ("inventory", {"order_ids": ["o2", "o3"], "products": False}),
        ("payments", {"order_ids": ["o1", "o2", "o3"], "products": False}),
    ]
    assert set(state.orders) == set(state.reservations) == set(state.payments) == {"o1", "o2", "o3"}
    assert state.products == [{"sku": "MUG"}]


def test_the_products_come_with_the_first_request_to_inventory_only(asked, monkeypatch):
    monkeypatch.setattr(clients, "CHUNK", 2)

    state = clients.state_of_orders(["o1", "o2", "o3"])

    inventory = [body for service, body in asked if service == "inventory"]
    assert inventory == [
        {"order_ids": ["o1", "o2"], "products": True},
        {"order_ids": ["o3"], "products": False},
    ]
    assert state.products == [{"sku": "MUG"}]
