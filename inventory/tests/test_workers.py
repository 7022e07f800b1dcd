"""Two event workers of the inventory service, real processes in one consumer group, applying
orders that contend for the same products: nothing applied twice, nothing out of order, and no
deadlock between their batches."""

import contextlib
import dataclasses
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection, connections

from events.contracts.common import Line
from events.contracts.orders import OrderCancelledV1, OrderCreatedV1
from events.envelope import Envelope
from events.models import DeadLetter, InboxEvent
from events.processing import Message, Outcome, process_batch
from events.tests import support
from inventory import services
from inventory.handlers import CONSUMER
from inventory.models import Product, Reservation, StockMovement
from tests.polling import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PARTITIONS = 6
SKUS = [f"SKU-{n}" for n in range(8)]


@pytest.fixture
def orders_topic():
    name = support.create_topic(partitions=PARTITIONS)
    yield name
    support.delete_topic(name)


def order_event(event_type: str, order_id: str, sequence: int, payload) -> Envelope:
    return Envelope(
        event_type=event_type,
        version=1,
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=sequence,
        payload=payload.model_dump(mode="json"),
        producer="orders",
        correlation_id=order_id,
    )


def created(order_id: str, n: int) -> Envelope:
    lines = [
        Line(sku=SKUS[n % 8], quantity=1, unit_price=Decimal(1)),
        Line(sku=SKUS[(n + 3) % 8], quantity=2, unit_price=Decimal(1)),
    ]
    payload = OrderCreatedV1(
        order_id=order_id,
        customer_id="1",
        lines=lines,
        total_amount=Decimal(3),
        currency="EUR",
        payment_token="tok_visa",
    )
    return order_event("OrderCreated", order_id, 1, payload)


def cancelled(order_id: str) -> Envelope:
    return order_event("OrderCancelled", order_id, 2, OrderCancelledV1(order_id=order_id, reason="customer"))


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_two_workers_apply_contending_orders_once_each_in_order_without_deadlock(orders_topic):
    # given products every order shares, and two workers of one group reading the topic
    for sku in SKUS:
        services.product_upsert(sku=sku, name=sku, price=Decimal(1), stock_quantity=10_000, actor="t")
    consumer = dataclasses.replace(CONSUMER, name=f"test-{uuid.uuid4().hex[:12]}", topics=(orders_topic,))
    deadlocks_before = deadlocks()
    workers = [support.consumer_process(consumer), support.consumer_process(consumer)]

    # when 400 orders arrive, every third cancelled right after it was placed
    order_ids = [str(uuid.uuid4()) for _ in range(400)]
    events = []
    for n, order_id in enumerate(order_ids):
        events.append(created(order_id, n))
        if n % 3 == 0:
            events.append(cancelled(order_id))
    support.produce(orders_topic, *events)
    try:
        wait_until(
            lambda: support.group_caught_up(consumer.name, orders_topic, PARTITIONS),
            timeout=120,
            message="both workers to catch up",
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join(60)

    # then both took part, each event was applied once, each order's in its order, and no batch deadlocked
    assert {worker.exitcode for worker in workers} == {0}
    assert InboxEvent.objects.filter(consumer=consumer.name).count() == len(events)
    assert len({row.partition for row in InboxEvent.objects.filter(consumer=consumer.name)}) == PARTITIONS
    assert not DeadLetter.objects.filter(consumer=consumer.name).exists()
    statuses = dict(Reservation.objects.values_list("order_id", "status"))
    assert statuses == {o: "released" if n % 3 == 0 else "held" for n, o in enumerate(order_ids)}
    assert StockMovement.objects.filter(kind="reserve").count() == 2 * len(order_ids)
    held = dict.fromkeys(SKUS, 0)
    for n in range(len(order_ids)):
        if n % 3:
            held[SKUS[n % 8]] += 1
            held[SKUS[(n + 3) % 8]] += 2
    assert dict(Product.objects.values_list("sku", "reserved_quantity")) == held
    assert deadlocks() == deadlocks_before


def test_two_batches_whose_handlers_would_lock_products_in_opposite_orders_do_not_deadlock():
    # given two held orders, one on each of two products
    for sku in ("P1", "P2"):
        services.product_upsert(sku=sku, name=sku, price=Decimal(1), stock_quantity=100, actor="t")
    held = {"o-p1": "P1", "o-p2": "P2"}
    services.reservations_hold(
        [services.Hold(o, [{"sku": sku, "quantity": 1, "unit_price": "1"}]) for o, sku in held.items()]
    )
    # and two batches, each a new order on one product and a cancellation of the order on the
    # other: handler by handler, one would lock P2 then P1 and the other P1 then P2
    batches = {
        "a": [single_line_order("new-a", "P2"), cancelled("o-p1")],
        "b": [single_line_order("new-b", "P1"), cancelled("o-p2")],
    }
    # when two workers apply them at once, each pausing after its first handler for the other to
    # get there too (a worker blocked on a lock never does: the pause gives up after 2 s)
    both_between_handlers = threading.Barrier(2, timeout=2)

    def pausing(handler):
        def handle(events):
            handler(events)
            if handler is CONSUMER.handlers["OrderCreated"]:
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_between_handlers.wait()

        handle.__name__ = handler.__name__
        return handle

    consumer = dataclasses.replace(
        CONSUMER, name="test-workers", handlers={t: pausing(h) for t, h in CONSUMER.handlers.items()}
    )
    outcomes, failures = {}, {}

    def apply(name):
        messages = [Message("t", 0, n, e.key, e.to_json(), e.event_type) for n, e in enumerate(batches[name])]
        try:
            outcomes[name] = process_batch(consumer, messages, parked=set())
        except Exception as exc:  # a deadlock would end one of them here
            failures[name] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=apply, args=(name,)) for name in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # then both applied everything: the batch's rows were locked in one sorted order before any handler
    assert failures == {}
    assert outcomes == {"a": [Outcome.APPLIED] * 2, "b": [Outcome.APPLIED] * 2}
    assert dict(Reservation.objects.values_list("order_id", "status")) == {
        "o-p1": "released",
        "o-p2": "released",
        "new-a": "held",
        "new-b": "held",
    }


def single_line_order(order_id: str, sku: str) -> Envelope:
    payload = OrderCreatedV1(
        order_id=order_id,
        customer_id="1",
        lines=[Line(sku=sku, quantity=1, unit_price=Decimal(1))],
        total_amount=Decimal(1),
        currency="EUR",
        payment_token="tok_visa",
    )
    return order_event("OrderCreated", order_id, 1, payload)
