"""The orders service's saga steps and its state machine."""

from datetime import timedelta
from decimal import Decimal

import pytest

from events.envelope import Envelope
from events.models import OutboxEvent
from orders import state
from orders.models import CatalogProduct, Order
from orders.services import catalog, placement, saga

pytestmark = pytest.mark.django_db


def finish_one(outcome: saga.Outcome) -> Order | None:
    """One outcome through orders_finish; the order if it moved."""
    if saga.orders_finish([outcome]):
        return Order.objects.get(order_id=outcome.order_id)
    return None


def apply_payment(*, order_id: str, succeeded: bool, caused_by: Envelope) -> Order | None:
    return finish_one(saga.outcome_of_payment(order_id=order_id, succeeded=succeeded, caused_by=caused_by))


def event(sequence=1, aggregate_id="x") -> Envelope:
    return Envelope(
        event_type="T",
        version=1,
        aggregate_type="order",
        aggregate_id=aggregate_id,
        sequence=sequence,
        payload={},
        producer="tests",
        correlation_id=aggregate_id,
    )


@pytest.fixture
def order(customer, catalog):
    return placement.order_place(
        customer=customer, lines=[placement.LineIn("MUG", 1)], payment_token="tok_visa"
    ).order


def test_a_successful_payment_completes_the_order_and_publishes_it(order):
    apply_payment(order_id=str(order.order_id), succeeded=True, caused_by=event())

    order.refresh_from_db()
    assert (order.status, order.version) == ("completed", 2)
    assert OutboxEvent.objects.filter(event_type="OrderCompleted", aggregate_id=str(order.order_id)).exists()


def test_a_rejection_for_stock_fails_the_order_as_out_of_stock(order):
    order_id = str(order.order_id)
    finish_one(saga.outcome_of_rejection(order_id=order_id, reason="out_of_stock", caused_by=event()))

    order.refresh_from_db()
    assert (order.status, order.failure_reason) == ("failed", "out_of_stock")


def test_an_event_for_a_terminal_order_is_refused_and_changes_nothing(order):
    placement.order_cancel(order_id=order.order_id)

    result = apply_payment(order_id=str(order.order_id), succeeded=True, caused_by=event())

    order.refresh_from_db()
    assert result is None
    assert order.status == "cancelled"
    assert [h.status for h in order.history.all()] == ["pending", "cancelled"]


def test_the_state_machine_refuses_leaving_a_terminal_state(order):
    state.transition(order, Order.Status.FAILED, reason="timeout")

    with pytest.raises(state.IllegalTransition) as refused:
        state.transition(order, Order.Status.COMPLETED)

    assert (refused.value.order.status, refused.value.to) == (Order.Status.FAILED, Order.Status.COMPLETED)


def test_orders_pending_past_the_timeout_fail_with_reason_timeout(order, customer, saga_caught_up):
    fresh = placement.order_place(
        customer=customer, lines=[placement.LineIn("CUP", 1)], payment_token="tok_visa"
    ).order
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at - timedelta(minutes=10))

    assert saga.order_fail_stuck(older_than=timedelta(minutes=2)) == 1

    order.refresh_from_db()
    fresh.refresh_from_db()
    assert (order.status, order.failure_reason, fresh.status) == ("failed", "timeout", "pending")
    assert OutboxEvent.objects.filter(event_type="OrderFailed", aggregate_id=str(order.order_id)).exists()


def test_a_backlog_delays_the_timeout_instead_of_failing_the_order(order, pipeline_measured):
    # given an order pending for ten minutes, while inventory's consumers, working, are nine behind
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at - timedelta(minutes=10))
    pipeline_measured(
        {"outbox": 0.0, "consumer:inventory": 540.0, "consumer:payments": 0.0, "consumer:orders": 0.0}
    )

    # when
    failed = saga.order_fail_stuck(older_than=timedelta(minutes=2))

    # then its participant never had it within reach for two minutes: it waits
    order.refresh_from_db()
    assert (failed, order.status) == (0, "pending")


def test_an_order_held_by_a_stalled_participant_still_times_out(order, pipeline_measured):
    # given an order pending for ten minutes, and payments' consumers stopped with events waiting
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at - timedelta(minutes=10))
    pipeline_measured(
        {"outbox": 0.0, "consumer:inventory": 0.0, "consumer:payments": 590.0, "consumer:orders": 0.0},
        stalled={"consumer:payments"},
    )

    # when
    failed = saga.order_fail_stuck(older_than=timedelta(minutes=2))

    # then an outage is no backlog: the order fails for timeout and is compensated
    order.refresh_from_db()
    assert (failed, order.status, order.failure_reason) == (1, "failed", "timeout")


@pytest.mark.parametrize("measurement", ["missing", "stale"])
def test_nothing_times_out_while_the_pipelines_delay_is_unknown(order, pipeline_measured, measurement):
    # given an order pending for ten minutes, and no fresh measurement (the broker or the watcher is down)
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at - timedelta(minutes=10))
    if measurement == "stale":
        stages = {"outbox": 0.0, "consumer:inventory": 0.0, "consumer:payments": 0.0, "consumer:orders": 0.0}
        pipeline_measured(stages, ago=60)

    # when
    failed = saga.order_fail_stuck(older_than=timedelta(minutes=2))

    # then
    order.refresh_from_db()
    assert (failed, order.status) == (0, "pending")


def test_the_catalog_never_lets_an_older_product_event_overwrite_a_newer_one():
    catalog.catalog_apply_products([catalog.ProductVersion("MUG", "Mug v2", Decimal("2"), 2)])
    catalog.catalog_apply_products([catalog.ProductVersion("MUG", "Mug v1", Decimal("1"), 1)])

    assert CatalogProduct.objects.get(sku="MUG").name == "Mug v2"
