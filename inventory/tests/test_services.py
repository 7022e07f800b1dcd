"""Inventory's rules: audited stock changes, all-or-nothing reservations, compensation."""

import threading
from decimal import Decimal

import pytest
from django.db import connections

from events.envelope import Envelope
from events.models import OutboxEvent
from inventory import services
from inventory.models import Product, Reservation, StockMovement

pytestmark = pytest.mark.django_db


def cause(order_id: str = "order-1") -> Envelope:
    return Envelope(
        event_type="OrderCreated",
        version=1,
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=1,
        payload={},
        producer="orders",
        correlation_id=order_id,
    )


def product(sku="SKU-1", stock=10, price="9.99") -> Product:
    return services.product_upsert(
        sku=sku, name=sku.lower(), price=Decimal(price), stock_quantity=stock, actor="t"
    )[0]


def line(sku="SKU-1", quantity=1):
    return {"sku": sku, "quantity": quantity, "unit_price": "9.99"}


def reserve(*, order_id: str, lines: list[dict], caused_by: Envelope | None) -> Reservation:
    """One order's lines held through reservations_hold; its reservation."""
    services.reservations_hold([services.Hold(order_id, lines, caused_by)])
    return Reservation.objects.get(order_id=order_id)


def commit(*, order_id: str, caused_by: Envelope | None) -> Reservation | None:
    """One order paid, through reservations_settle: its held units leave the stock."""
    services.reservations_settle([services.Settle(order_id, commit=True, caused_by=caused_by)])
    return Reservation.objects.filter(order_id=order_id).first()


def events_of(event_type: str) -> list[dict]:
    return [row.envelope for row in OutboxEvent.objects.filter(event_type=event_type).order_by("id")]


def test_creating_and_updating_a_product_is_audited_and_published():
    product(stock=10)
    services.product_upsert(
        sku="SKU-1", name="renamed", price=Decimal("5.00"), stock_quantity=7, actor="alice"
    )

    assert [(m.kind, m.stock_change, m.actor) for m in StockMovement.objects.order_by("id")] == [
        ("set", 10, "t"),
        ("set", -3, "alice"),
    ]
    assert [(e["sequence"], e["payload"]["name"]) for e in events_of("ProductUpdated")] == [
        (1, "sku-1"),
        (2, "renamed"),
    ]


def test_a_reservation_holds_every_line_and_is_published_as_caused_by_the_order():
    product("A", stock=5)
    product("B", stock=5)
    order_created = cause("o1")

    reservation = reserve(order_id="o1", lines=[line("A", 2), line("B", 5)], caused_by=order_created)

    assert reservation.status == Reservation.Status.HELD
    assert {p.sku: (p.stock_quantity, p.reserved_quantity) for p in Product.objects.all()} == {
        "A": (5, 2),
        "B": (5, 5),
    }
    (reserved,) = events_of("InventoryReserved")
    assert (reserved["aggregate_id"], reserved["correlation_id"]) == ("o1", "o1")
    assert reserved["causation_id"] == order_created.event_id


def test_a_reservation_that_cannot_be_met_in_full_holds_nothing():
    product("A", stock=5)
    product("B", stock=1)

    reserve(order_id="o1", lines=[line("A", 2), line("B", 2)], caused_by=cause("o1"))

    assert list(Product.objects.values_list("reserved_quantity", flat=True)) == [0, 0]
    (rejected,) = events_of("InventoryRejected")
    assert rejected["payload"] == {"order_id": "o1", "reason": "out_of_stock", "skus": ["B"]}


def test_an_unknown_product_rejects_the_order():
    reserve(order_id="o1", lines=[line("NOPE", 1)], caused_by=cause("o1"))

    assert events_of("InventoryRejected")[0]["payload"]["reason"] == "unknown_product"


def test_reserving_the_same_order_twice_holds_once():
    product("A", stock=5)
    for _ in range(2):
        reserve(order_id="o1", lines=[line("A", 2)], caused_by=cause("o1"))

    assert Product.objects.get().reserved_quantity == 2
    assert len(events_of("InventoryReserved")) == 1


def test_commit_ships_held_units_and_release_after_commit_restocks():
    product("A", stock=5)
    reserve(order_id="o1", lines=[line("A", 2)], caused_by=cause("o1"))

    commit(order_id="o1", caused_by=cause("o1"))
    assert (Product.objects.get().stock_quantity, Product.objects.get().reserved_quantity) == (3, 0)

    services.reservation_release(order_id="o1", reason="order_cancelled", caused_by=cause("o1"))
    assert (Product.objects.get().stock_quantity, Product.objects.get().reserved_quantity) == (5, 0)
    assert Reservation.objects.get().status == Reservation.Status.RELEASED


def test_releasing_a_held_reservation_twice_gives_the_units_back_once():
    product("A", stock=5)
    reserve(order_id="o1", lines=[line("A", 2)], caused_by=cause("o1"))

    for _ in range(2):
        services.reservation_release(order_id="o1", reason="payment_declined", caused_by=cause("o1"))

    assert Product.objects.get().reserved_quantity == 0
    assert len(events_of("InventoryReleased")) == 1


def test_stock_cannot_be_set_or_adjusted_below_what_is_held():
    product("A", stock=5)
    reserve(order_id="o1", lines=[line("A", 4)], caused_by=cause("o1"))

    with pytest.raises(services.InventoryError) as below_on_set:
        services.product_upsert(sku="A", name="a", price=Decimal(1), stock_quantity=3, actor="t")
    with pytest.raises(services.InventoryError) as below_on_adjust:
        services.stock_adjust(sku="A", delta=-2, reason="count", actor="t")

    assert below_on_set.value.code == below_on_adjust.value.code == services.Refusal.BELOW_HELD


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_orders_for_ten_units_reserve_exactly_ten():
    product("LAST", stock=10)
    barrier = threading.Barrier(10)
    failures = []

    def place(orders):
        try:
            barrier.wait()
            for order_id in orders:
                reserve(order_id=order_id, lines=[line("LAST", 1)], caused_by=cause(order_id))
        except Exception as exc:  # noqa: BLE001 - reported below, in the test's own thread
            failures.append(exc)
        finally:
            connections.close_all()

    batches = [[f"o{t}-{i}" for i in range(5)] for t in range(10)]
    threads = [threading.Thread(target=place, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not [thread for thread in threads if thread.is_alive()], "a placing thread did not finish in 60 s"
    assert failures == []

    last = Product.objects.get()
    assert (last.stock_quantity, last.reserved_quantity) == (10, 10)
    assert Reservation.objects.filter(status=Reservation.Status.HELD).count() == 10
    assert len(events_of("InventoryRejected")) == 40


def test_support_releases_only_a_held_reservation():
    product("A", stock=5)
    reserve(order_id="o1", lines=[line("A", 2)], caused_by=cause("o1"))
    reserve(order_id="o2", lines=[line("A", 1)], caused_by=cause("o2"))
    commit(order_id="o2", caused_by=cause("o2"))

    released = services.reservation_release_by_support(order_id="o1", actor="helper")
    with pytest.raises(services.InventoryError) as committed:
        services.reservation_release_by_support(order_id="o2", actor="helper")
    with pytest.raises(services.InventoryError) as missing:
        services.reservation_release_by_support(order_id="o3", actor="helper")

    assert (committed.value.code, missing.value.code) == (
        services.Refusal.NOT_HELD,
        services.Refusal.NO_RESERVATION,
    )
    assert released.status == Reservation.Status.RELEASED
    assert (Product.objects.get().stock_quantity, Product.objects.get().reserved_quantity) == (4, 0)
    assert StockMovement.objects.filter(order_id="o1", kind="release").get().actor == "helper"
