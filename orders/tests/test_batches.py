"""The orders consumer's batches: saga outcomes moved through the state machine with set-based
statements, and the catalog kept in one statement."""

from decimal import Decimal

import pytest

from events.models import OutboxEvent
from events.publishing import outbox_batch
from orders.models import CatalogProduct, Order, OrderStatusChange
from orders.services import catalog, placement, saga

pytestmark = pytest.mark.django_db


def place(customer) -> str:
    return str(
        placement.order_place(
            customer=customer, lines=[placement.LineIn("MUG", 1)], payment_token="tok_visa"
        ).order.order_id
    )


def test_a_batch_of_outcomes_costs_four_statements_whatever_its_size(
    customer, catalog, django_assert_num_queries
):
    orders = [place(customer) for _ in range(30)]
    outcomes = [
        saga.outcome_of_payment(order_id=o, succeeded=n % 3 != 0, caused_by=None)
        for n, o in enumerate(orders)
    ]

    # lock the orders, move them, their history, the outbox
    with django_assert_num_queries(4), outbox_batch():
        finished = saga.orders_finish(outcomes)

    assert sorted(finished) == sorted(orders)
    assert Order.objects.filter(status="completed").count() == 20
    assert set(Order.objects.filter(status="failed").values_list("failure_reason", flat=True)) == {
        "payment_declined"
    }
    assert OutboxEvent.objects.filter(event_type="OrderCompleted").count() == 20
    assert OutboxEvent.objects.filter(event_type="OrderFailed", sequence=2).count() == 10
    assert OrderStatusChange.objects.filter(status__in=["completed", "failed"]).count() == 30


def test_outcomes_for_terminal_unknown_or_malformed_orders_change_nothing(customer, catalog):
    cancelled = place(customer)
    placement.order_cancel(order_id=cancelled)
    pending = place(customer)
    unknown = "00000000-0000-4000-8000-000000000000"

    finished = saga.orders_finish(
        [
            saga.outcome_of_payment(order_id=cancelled, succeeded=True, caused_by=None),
            saga.outcome_of_payment(order_id=unknown, succeeded=True, caused_by=None),
            saga.Outcome("not-an-order-id", "failed", "timeout"),
            saga.outcome_of_rejection(order_id=pending, reason="unknown_product", caused_by=None),
        ]
    )

    assert finished == [pending]
    assert Order.objects.get(order_id=cancelled).status == "cancelled"
    assert (
        Order.objects.get(order_id=pending).status,
        Order.objects.get(order_id=pending).failure_reason,
    ) == (
        "failed",
        "invalid_order",
    )
    assert not OutboxEvent.objects.filter(event_type="OrderCompleted").exists()


def test_a_batch_of_product_updates_keeps_each_products_newest_version(django_assert_num_queries):
    catalog.catalog_apply_products([catalog.ProductVersion("MUG", "Mug v3", Decimal("3"), 3)])

    with django_assert_num_queries(1):
        catalog.catalog_apply_products(
            [
                catalog.ProductVersion("MUG", "Mug v2", Decimal("2"), 2),
                catalog.ProductVersion("CUP", "Cup", Decimal("1"), 1),
            ]
        )

    assert dict(CatalogProduct.objects.values_list("sku", "name")) == {"MUG": "Mug v3", "CUP": "Cup"}
