"""The client of the services' internal APIs: what a sweep asks each service for."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from reconciliation import clients
from reconciliation.tests.records import order_record, payment_record, product_record, reservation_record

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BUILDERS = {"orders": order_record, "inventory": reservation_record, "payments": payment_record}
MUG = product_record("MUG")


def record(service: str, order_id: str, at: datetime = AT) -> dict:
    """The service's record of the order, as its internal API answers it (JSON)."""
    return BUILDERS[service](order_id, at=at).as_json()


@pytest.fixture
def asked(monkeypatch):
    """Every internal API request made: (service, its body); each answered with a record of every
    order asked for, and a product."""
    calls = []

    def call(method, service, endpoint, body=None):
        calls.append((service, body))
        answer = {clients.RECORDS[service]: [record(service, i) for i in body.get("order_ids", [])]}
        if service == "inventory" and body.get("products", True):
            answer["products"] = [MUG.as_json()]
        return answer

    monkeypatch.setattr(clients, "_call", call)
    return calls


def test_records_the_window_already_gave_are_not_asked_for_again(asked):
    known = clients.ServiceState(
        {"o1": order_record("o1", at=AT), "o2": order_record("o2", at=AT)},
        {"o1": reservation_record("o1", at=AT)},
        {},
        [MUG],
    )

    state = clients.state_of_orders(["o1", "o2", "o3"], known=known)

    assert asked == [
        ("orders", {"order_ids": ["o3"], "products": False}),
        ("inventory", {"order_ids": ["o2", "o3"], "products": False}),
        ("payments", {"order_ids": ["o1", "o2", "o3"], "products": False}),
    ]
    assert set(state.orders) == set(state.reservations) == set(state.payments) == {"o1", "o2", "o3"}
    assert state.products == [MUG]


def test_the_products_come_with_the_first_request_to_inventory_only(asked, monkeypatch):
    monkeypatch.setattr(clients, "CHUNK", 2)

    state = clients.state_of_orders(["o1", "o2", "o3"])

    inventory = [body for service, body in asked if service == "inventory"]
    assert inventory == [
        {"order_ids": ["o1", "o2"], "products": True},
        {"order_ids": ["o3"], "products": False},
    ]
    assert state.products == [MUG]


def test_a_window_busier_than_a_page_is_read_page_by_page(monkeypatch):
    # Given each service changed 7 orders in the window, 4 of them at the same instant, and
    # answers at most 3 records a time, by (change, order id), from where the last page ended
    base = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    at = [base + timedelta(seconds=s) for s in (0, 1, 1, 1, 1, 2, 3)]
    asked = []

    def call(method, service, endpoint, body):
        asked.append((service, body["since"], body.get("after_order_id")))
        changes = [record(service, f"o{n}", a) for n, a in enumerate(at)]
        since, after = datetime.fromisoformat(body["since"]), body.get("after_order_id", "")
        key = lambda c: (datetime.fromisoformat(c["updated_at"]), c["order_id"])  # noqa: E731
        page = [c for c in sorted(changes, key=key) if key(c) > (since, after)][: body["limit"]]
        return {clients.RECORDS[service]: page, "products": [MUG.as_json()]}

    monkeypatch.setattr(clients, "_call", call)
    monkeypatch.setattr(clients, "WINDOW_PAGE", 3)

    # When a sweep reads the window
    state = clients.state_changed_since(base)

    # Then every order changed in it is there, after as many pages as it took, none asked twice
    assert set(state.orders) == set(state.reservations) == set(state.payments) == {f"o{n}" for n in range(7)}
    assert [
        (datetime.fromisoformat(since), after) for service, since, after in asked if service == "orders"
    ] == [
        (base, None),
        (at[2], "o2"),
        (at[5], "o5"),
    ]
    assert state.products == [MUG]


def test_the_records_are_read_into_the_contracts_models(asked):
    state = clients.state_of_orders(["o1"])

    assert state.orders["o1"] == order_record("o1", at=AT)
    assert state.payments["o1"].amount == Decimal("12.00")
    assert state.reservations["o1"].updated_at == AT


@pytest.mark.parametrize(
    "broken",
    [
        {"status": None},  # a field of the wrong type
        {"total_amount": "twelve"},
        {"shipped": True},  # a field the contract does not hold
    ],
    ids=["wrong type", "not a decimal", "unknown field"],
)
def test_a_record_that_breaks_the_contract_stops_the_audit_with_the_reason(monkeypatch, broken):
    def call(method, service, endpoint, body):
        records = [
            {**record(service, i), **broken} if service == "orders" else record(service, i)
            for i in body["order_ids"]
        ]
        return {clients.RECORDS[service]: records, "products": []}

    monkeypatch.setattr(clients, "_call", call)

    with pytest.raises(clients.ServiceUnavailable, match="breaks the internal API's contract"):
        clients.state_of_orders(["o1"])


def test_a_record_missing_a_field_stops_the_audit(monkeypatch):
    def call(method, service, endpoint, body):
        records = [record(service, i) for i in body["order_ids"]]
        if service == "payments":
            del records[0]["version"]
        return {clients.RECORDS[service]: records, "products": []}

    monkeypatch.setattr(clients, "_call", call)

    with pytest.raises(clients.ServiceUnavailable, match="payments"):
        clients.state_of_orders(["o1"])
