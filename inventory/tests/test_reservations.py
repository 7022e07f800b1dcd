"""Reservations in batches, as the consumer applies them: a fixed handful of statements per
batch, units moved in the batch's order, and concurrent batches that never deadlock."""

import threading
from decimal import Decimal

import pytest
from django.db import connections

from events.models import OutboxEvent
from events.publishing import outbox_batch
from inventory import services
from inventory.models import Product, Reservation, StockMovement

pytestmark = pytest.mark.django_db


def stock(sku: str, units: int) -> None:
    services.product_upsert(sku=sku, name=sku, price=Decimal("1.00"), stock_quantity=units, actor="t")


def hold(order_id: str, *lines: tuple[str, int]) -> services.Hold:
    return services.Hold(order_id, [{"sku": s, "quantity": q, "unit_price": "1.00"} for s, q in lines])


def units(sku: str) -> tuple[int, int]:
    product = Product.objects.get(sku=sku)
    return product.stock_quantity, product.reserved_quantity


def test_a_batch_of_holds_costs_the_same_statements_whatever_its_size(django_assert_num_queries):
    stock("A", 100)
    stock("B", 100)
    holds = [hold(f"o{n}", ("A", 1), ("B", 2)) for n in range(30)]

    # existing reservations, lock the products, their changes, the movements, the reservations,
    # the outbox
    with django_assert_num_queries(6), outbox_batch():
        services.reservations_hold(holds)

    assert units("A") == (100, 30)
    assert units("B") == (100, 60)
    assert Reservation.objects.filter(status="held").count() == 30
    assert OutboxEvent.objects.filter(event_type="InventoryReserved").count() == 30


def test_holds_take_the_units_in_the_batchs_order_and_each_movement_says_what_was_left():
    stock("LAST", 3)

    services.reservations_hold(
        [hold("first", ("LAST", 2)), hold("second", ("LAST", 2)), hold("third", ("LAST", 1))]
    )

    held = dict(Reservation.objects.values_list("order_id", "status"))
    assert held == {"first": "held", "second": "released", "third": "held"}
    movements = StockMovement.objects.filter(kind="reserve").order_by("id")
    assert [(m.order_id, m.reserved_change, m.reserved_after) for m in movements] == [
        ("first", 2, 2),
        ("third", 1, 3),
    ]
    rejected = OutboxEvent.objects.get(event_type="InventoryRejected")
    assert rejected.envelope["payload"] == {"order_id": "second", "reason": "out_of_stock", "skus": ["LAST"]}


def test_a_batch_of_outcomes_ships_some_orders_and_gives_others_back(django_assert_num_queries):
    stock("A", 10)
    services.reservations_hold(
        [hold("paid", ("A", 2)), hold("declined", ("A", 3)), hold("shipped", ("A", 1))]
    )
    services.reservations_settle([services.Settle("shipped", commit=True)])
    outcomes = [
        services.Settle("paid", commit=True),
        services.Settle("declined", commit=False, reason="payment_declined"),
        services.Settle("shipped", commit=False, reason="order_cancelled"),  # restock a shipped order
        services.Settle("never-reserved", commit=False, reason="order_cancelled"),
    ]

    # lock the reservations, lock the products, their changes, the movements, the reservations, the outbox
    with django_assert_num_queries(6), outbox_batch():
        services.reservations_settle(outcomes)

    assert units("A") == (10 - 1 - 2 + 1, 0)
    statuses = dict(Reservation.objects.values_list("order_id", "status"))
    assert statuses == {"paid": "committed", "declined": "released", "shipped": "released"}
    assert dict(Reservation.objects.values_list("order_id", "version")) == {
        "paid": 2,
        "declined": 2,
        "shipped": 3,
    }
    events = OutboxEvent.objects.filter(event_type__in=["InventoryCommitted", "InventoryReleased"])
    assert sorted((e.aggregate_id, e.event_type, e.sequence) for e in events) == [
        ("declined", "InventoryReleased", 2),
        ("paid", "InventoryCommitted", 2),
        ("shipped", "InventoryCommitted", 2),
        ("shipped", "InventoryReleased", 3),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_workers_settling_the_same_orders_in_opposite_orders_never_deadlock():
    # given forty held orders over four products
    for sku in "ABCD":
        stock(sku, 1000)
    orders = [f"o{n}" for n in range(40)]
    services.reservations_hold(
        [hold(o, ("ABCD"[n % 4], 1), ("ABCD"[(n + 1) % 4], 1)) for n, o in enumerate(orders)]
    )
    barrier = threading.Barrier(2)
    failures = []

    def worker(batch):
        try:
            barrier.wait()
            for _ in range(10):
                services.reservations_settle([services.Settle(o, commit=True) for o in batch])
        except Exception as exc:  # a deadlock would surface here
            failures.append(exc)
        finally:
            connections.close_all()

    # when two workers take the same orders at once, one in the reverse order of the other
    threads = [threading.Thread(target=worker, args=(b,)) for b in (orders, orders[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # then neither failed, and each order shipped once
    assert failures == []
    assert Reservation.objects.filter(status="committed").count() == 40
    assert sum(units(sku)[0] for sku in "ABCD") == 4000 - 80
