"""The client of the services' internal APIs: what a sweep asks each service for."""

from datetime import UTC, datetime, timedelta

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


def test_a_window_busier_than_a_page_is_read_page_by_page(monkeypatch):
    # Given each service changed 7 orders in the window, 4 of them at the same instant, and
    # answers at most 3 records a time, by (change, order id), from where the last page ended
    base = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    at = [base + timedelta(seconds=s) for s in (0, 1, 1, 1, 1, 2, 3)]
    changes = [{"order_id": f"o{n}", "updated_at": a.isoformat()} for n, a in enumerate(at)]
    asked = []

    def call(method, service, endpoint, body):
        asked.append((service, body["since"], body.get("after_order_id")))
        since, after = datetime.fromisoformat(body["since"]), body.get("after_order_id", "")
        key = lambda c: (datetime.fromisoformat(c["updated_at"]), c["order_id"])  # noqa: E731
        page = [c for c in sorted(changes, key=key) if key(c) > (since, after)][: body["limit"]]
        return {clients.RECORDS[service]: page, "products": [{"sku": "MUG"}]}

    monkeypatch.setattr(clients, "_call", call)
    monkeypatch.setattr(clients, "WINDOW_PAGE", 3)

    # When a sweep reads the window
    state = clients.state_changed_since(base)

    # Then every order changed in it is there, after as many pages as it took, none asked twice
    assert set(state.orders) == set(state.reservations) == set(state.payments) == {f"o{n}" for n in range(7)}
    assert [(since, after) for service, since, after in asked if service == "orders"] == [
        (base.isoformat(), None),
        (at[2].isoformat(), "o2"),
        (at[5].isoformat(), "o5"),
    ]
    assert state.products == [{"sku": "MUG"}]
