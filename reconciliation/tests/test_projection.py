"""The projection: every order's saga built from the three services' events (saga_apply_events),
and repaired from the services' own state (saga_refresh)."""

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from events import schemas
from events.consumers import Event
from events.contracts.common import Line
from events.contracts.inventory import (
    InventoryCommittedV1,
    InventoryRejectedV1,
    InventoryReleasedV1,
    InventoryReservedV1,
)
from events.contracts.orders import OrderCancelledV1, OrderCompletedV1, OrderCreatedV1, OrderFailedV1
from events.contracts.payments import PaymentProcessedV1, PaymentRefundedV1
from events.envelope import Envelope
from reconciliation.models import OrderSaga, SagaStep
from reconciliation.services import projection
from reconciliation.tests.records import order_record, payment_record, reservation_record

pytestmark = pytest.mark.django_db

ORDER = "0c4f3a57-2f0e-4d7b-8a1e-6f1f3cbb9e10"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LINES = [Line(sku="MUG", quantity=2, unit_price=Decimal("6.00"))]
PAYMENT = "5a1c0f0e-4d7b-4f5e-9a3b-1b2c3d4e5f60"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def payload_of(event_type: str, **fields):
    """The event's payload, built from its contract model."""
    models = {
        "OrderCreated": lambda: OrderCreatedV1(
            order_id=ORDER,
            customer_id="42",
            lines=LINES,
            total_amount=Decimal("12.00"),
            currency="EUR",
            payment_token="tok_visa",
        ),
        "OrderCompleted": lambda: OrderCompletedV1(order_id=ORDER),
        "OrderFailed": lambda: OrderFailedV1(order_id=ORDER, reason=fields.get("reason", "payment_declined")),
        "OrderCancelled": lambda: OrderCancelledV1(order_id=ORDER, reason="customer"),
        "InventoryReserved": lambda: InventoryReservedV1(order_id=ORDER, lines=LINES),
        "InventoryRejected": lambda: InventoryRejectedV1(order_id=ORDER, reason="out_of_stock", skus=["MUG"]),
        "InventoryCommitted": lambda: InventoryCommittedV1(order_id=ORDER),
        "InventoryReleased": lambda: InventoryReleasedV1(order_id=ORDER, reason="order_cancelled"),
        "PaymentProcessed": lambda: PaymentProcessedV1(
            order_id=ORDER,
            payment_id=PAYMENT,
            status=fields.get("status", "succeeded"),
            amount=Decimal(fields.get("amount", "12.00")),
        ),
        "PaymentRefunded": lambda: PaymentRefundedV1(
            order_id=ORDER, payment_id=PAYMENT, amount=Decimal("12.00")
        ),
    }
    return models[event_type]().model_dump(mode="json")


PRODUCERS = {"Order": "orders", "Inventory": "inventory", "Payment": "payments"}


def event(event_type: str, sequence: int, *, seconds: float = 0, **fields) -> Envelope:
    producer = next(p for prefix, p in PRODUCERS.items() if event_type.startswith(prefix))
    return Envelope(
        event_type=event_type,
        version=1,
        aggregate_type="order",
        aggregate_id=ORDER,
        sequence=sequence,
        payload=payload_of(event_type, **fields),
        producer=producer,
        correlation_id=ORDER,
        occurred_at=at(seconds),
    )


def apply(envelope: Envelope) -> OrderSaga:
    """As the consumer does: the payload validated against its schema, then the handler (a batch
    of one); the saga."""
    with transaction.atomic():
        projection.saga_apply_events([Event(envelope, schemas.payload_of(envelope))])
    return OrderSaga.objects.get(order_id=envelope.aggregate_id)


def sides(saga: OrderSaga) -> tuple:
    saga.refresh_from_db()
    return (
        (saga.order_status, saga.order_version),
        (saga.reservation_status, saga.reservation_version),
        (saga.payment_status, saga.payment_version),
    )


def completions(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("reconciliation_saga_completion_seconds_count", {"outcome": outcome}) or 0
    )


# --- saga_apply_events ---


def test_a_completed_saga_is_projected_step_by_step():
    saga = apply(event("OrderCreated", 1))
    assert sides(saga) == (("pending", 1), ("", 0), ("", 0))

    apply(event("InventoryReserved", 1, seconds=0.1))
    apply(event("PaymentProcessed", 1, seconds=0.2))
    assert sides(saga) == (("pending", 1), ("held", 1), ("captured", 1))

    apply(event("InventoryCommitted", 2, seconds=0.3))
    apply(event("OrderCompleted", 2, seconds=0.4))

    assert sides(saga) == (("completed", 2), ("committed", 2), ("captured", 1))
    assert (saga.customer, saga.total_amount, saga.currency, saga.payment_amount) == (
        "42",
        Decimal("12.00"),
        "EUR",
        Decimal("12.00"),
    )
    assert (saga.created_at, saga.ended_at, saga.last_event_at) == (T0, at(0.4), at(0.4))
    assert saga.completion_seconds == pytest.approx(0.4)
    assert list(saga.steps.values_list("event_type", "producer", "sequence")) == [
        ("OrderCreated", "orders", 1),
        ("InventoryReserved", "inventory", 1),
        ("PaymentProcessed", "payments", 1),
        ("InventoryCommitted", "inventory", 2),
        ("OrderCompleted", "orders", 2),
    ]


@pytest.mark.parametrize(
    ("envelope", "side", "status"),
    [
        (event("OrderCancelled", 2), "order", "cancelled"),
        (event("OrderFailed", 2), "order", "failed"),
        (event("InventoryRejected", 1), "reservation", "rejected"),
        (event("InventoryReleased", 2), "reservation", "released"),
        (event("PaymentProcessed", 1, status="failed"), "payment", "declined"),
        (event("PaymentRefunded", 2), "payment", "refunded"),
    ],
    ids=lambda value: value.event_type if isinstance(value, Envelope) else None,
)
def test_each_event_records_its_sides_status(envelope, side, status):
    saga = apply(envelope)

    saga.refresh_from_db()
    assert (getattr(saga, f"{side}_status"), getattr(saga, f"{side}_version")) == (status, envelope.sequence)


def test_a_failed_order_keeps_its_reason_and_when_it_ended():
    apply(event("OrderCreated", 1))
    saga = apply(event("OrderFailed", 2, seconds=3, reason="out_of_stock"))

    saga.refresh_from_db()
    assert (saga.order_status, saga.failure_reason, saga.ended_at) == ("failed", "out_of_stock", at(3))


def test_a_declined_payment_records_the_amount_it_was_for():
    saga = apply(event("PaymentProcessed", 1, status="failed", amount="7.50"))

    saga.refresh_from_db()
    assert (saga.payment_status, saga.payment_amount) == ("declined", Decimal("7.50"))


def test_an_older_event_arriving_late_does_not_overwrite_a_newer_one_but_is_a_step():
    apply(event("InventoryReserved", 1, seconds=1))
    apply(event("InventoryCommitted", 2, seconds=2))

    saga = apply(event("InventoryReleased", 1, seconds=0.5))

    assert sides(saga)[1] == ("committed", 2)
    assert saga.last_event_at == at(2)
    assert sorted(saga.steps.values_list("sequence", flat=True)) == [1, 1, 2]


def test_the_same_event_delivered_twice_is_one_step():
    created, completed = event("OrderCreated", 1), event("OrderCompleted", 2, seconds=1)
    for envelope in (created, completed, created, completed):
        apply(envelope)

    saga = OrderSaga.objects.get()
    assert sides(saga)[0] == ("completed", 2)
    assert SagaStep.objects.count() == 2
    assert {str(s.event_id) for s in SagaStep.objects.all()} == {created.event_id, completed.event_id}


def test_an_order_ends_once_however_many_terminal_events_it_sees():
    apply(event("OrderCreated", 1))
    completed_before = completions("completed")
    completed = event("OrderCompleted", 2, seconds=1)

    apply(completed)
    apply(completed)
    saga = apply(event("OrderCancelled", 3, seconds=9))

    saga.refresh_from_db()
    assert (saga.order_status, saga.ended_at) == ("cancelled", at(1))
    assert completions("completed") == completed_before + 1


def test_an_order_created_event_re_driven_late_still_records_the_order():
    apply(event("OrderCompleted", 2, seconds=1))

    saga = apply(event("OrderCreated", 1))

    saga.refresh_from_db()
    assert sides(saga)[0] == ("completed", 2)
    assert (saga.customer, saga.total_amount, saga.created_at) == ("42", Decimal("12.00"), T0)


def batch(*envelopes: Envelope) -> None:
    """As the consumer applies a poll batch: every event at once."""
    projection.saga_apply_events([Event(e, schemas.payload_of(e)) for e in envelopes])


def test_a_batch_costs_two_statements_however_many_events_and_orders_it_holds(django_assert_num_queries):
    other = "7d5e1f3a-0b9c-4d2e-8f6a-1a2b3c4d5e6f"
    events = [event("OrderCreated", 1), event("InventoryReserved", 1, seconds=1)]
    events += [dataclasses.replace(e, aggregate_id=other, event_id=str(uuid.uuid4())) for e in events]

    # the steps (which of them are new), then each saga merged once
    with django_assert_num_queries(2):
        batch(*events)

    assert sides(OrderSaga.objects.get(order_id=ORDER)) == (("pending", 1), ("held", 1), ("", 0))
    assert sides(OrderSaga.objects.get(order_id=other)) == (("pending", 1), ("held", 1), ("", 0))
    assert SagaStep.objects.count() == 4


def test_a_whole_saga_in_one_batch_is_projected_as_step_by_step():
    completed_before = completions("completed")

    batch(
        event("OrderCreated", 1),
        event("InventoryReserved", 1, seconds=0.1),
        event("PaymentProcessed", 1, seconds=0.2),
        event("InventoryCommitted", 2, seconds=0.3),
        event("OrderCompleted", 2, seconds=0.4),
    )

    saga = OrderSaga.objects.get()
    assert sides(saga) == (("completed", 2), ("committed", 2), ("captured", 1))
    assert (saga.created_at, saga.ended_at, saga.last_event_at) == (T0, at(0.4), at(0.4))
    assert saga.payment_amount == Decimal("12.00")
    assert completions("completed") == completed_before + 1


def test_a_batch_merges_into_what_earlier_batches_projected_by_version():
    batch(event("OrderCreated", 1), event("InventoryReserved", 1, seconds=1))
    batch(event("InventoryCommitted", 2, seconds=2), event("PaymentProcessed", 1, seconds=1.5))

    batch(event("InventoryReleased", 1, seconds=0.5), event("OrderFailed", 2, seconds=3, reason="timeout"))

    saga = OrderSaga.objects.get()
    assert sides(saga) == (("failed", 2), ("committed", 2), ("captured", 1))
    assert (saga.failure_reason, saga.ended_at, saga.last_event_at) == ("timeout", at(3), at(3))
    assert (saga.customer, saga.created_at) == ("42", T0)


def test_an_event_twice_in_one_batch_is_one_step_and_ends_the_order_once():
    completed_before = completions("completed")
    apply(event("OrderCreated", 1))
    completed = event("OrderCompleted", 2, seconds=1)

    batch(completed, completed)

    assert SagaStep.objects.count() == 2
    assert completions("completed") == completed_before + 1


# --- saga_refresh ---


def test_refresh_builds_a_saga_the_projection_never_saw_from_the_services():
    placed = at(0)

    changed = projection.saga_refresh(
        order_id=ORDER,
        order=order_record(ORDER, "completed", at=at(5), created_at=placed),
        reservation=reservation_record(ORDER, "committed", at=at(5)),
        payment=payment_record(ORDER, "captured", at=at(5), amount="12.00"),
    )

    saga = OrderSaga.objects.get(order_id=ORDER)
    assert changed is True
    assert sides(saga) == (("completed", 2), ("committed", 2), ("captured", 1))
    assert (saga.created_at, saga.customer, saga.total_amount, saga.currency, saga.payment_amount) == (
        placed,
        "42",
        Decimal("12.00"),
        "EUR",
        Decimal("12.00"),
    )
    assert not saga.steps.exists()


def services_done() -> dict:
    """The three services' state of an order that completed: paid, its stock shipped."""
    return {
        "order": order_record(ORDER, "completed", at=at(5)),
        "reservation": reservation_record(ORDER, "committed", at=at(5)),
        "payment": payment_record(ORDER, "captured", at=at(5)),
    }


def test_refresh_moves_a_lagging_projection_forward_once():
    apply(event("OrderCreated", 1))
    apply(event("InventoryReserved", 1))
    services = services_done()

    first = projection.saga_refresh(order_id=ORDER, **services)
    second = projection.saga_refresh(order_id=ORDER, **services)

    assert (first, second) == (True, False)
    assert sides(OrderSaga.objects.get()) == (("completed", 2), ("committed", 2), ("captured", 1))


def test_refresh_of_a_saga_that_agrees_with_the_services_reads_it_once_and_locks_nothing(
    django_assert_num_queries,
):
    apply(event("OrderCreated", 1))
    apply(event("InventoryReserved", 1))
    services = services_done()
    projection.saga_refresh(order_id=ORDER, **services)
    before = OrderSaga.objects.get().updated_at

    with django_assert_num_queries(1) as captured:
        changed = projection.saga_refresh(order_id=ORDER, **services)

    assert changed is False
    assert "FOR UPDATE" not in captured.captured_queries[0]["sql"]
    assert OrderSaga.objects.get().updated_at == before


def test_refresh_never_moves_the_projection_back_to_an_older_version():
    apply(event("OrderCreated", 1))
    apply(event("OrderCompleted", 2, seconds=1))

    changed = projection.saga_refresh(
        order_id=ORDER, order=order_record(ORDER, "pending", at=at(0)), reservation=None, payment=None
    )

    assert changed is False
    assert sides(OrderSaga.objects.get())[0] == ("completed", 2)


def test_a_reservation_released_for_lack_of_stock_is_the_projections_rejected():
    apply(event("OrderCreated", 1))
    apply(event("InventoryRejected", 1))
    rejected = reservation_record(ORDER, "rejected", at=at(1))

    changed = projection.saga_refresh(order_id=ORDER, order=None, reservation=rejected, payment=None)

    assert changed is False
    assert sides(OrderSaga.objects.get())[1] == ("rejected", 1)


def test_refresh_corrects_a_status_the_projection_got_wrong_at_the_same_version():
    apply(event("OrderCreated", 1))
    apply(event("InventoryReserved", 1))
    rejected = reservation_record(ORDER, "rejected", at=at(1))

    changed = projection.saga_refresh(order_id=ORDER, order=None, reservation=rejected, payment=None)

    assert changed is True
    assert sides(OrderSaga.objects.get())[1] == ("rejected", 1)


@pytest.mark.parametrize("never_charged", ["pending", "voided"])
def test_a_payment_never_charged_is_not_projected(never_charged):
    apply(event("OrderCreated", 1))
    apply(event("OrderCancelled", 2, seconds=1))

    changed = projection.saga_refresh(
        order_id=ORDER,
        order=order_record(ORDER, "cancelled", at=at(1)),
        reservation=None,
        payment=payment_record(ORDER, never_charged, at=at(1)),
    )

    assert changed is False
    assert sides(OrderSaga.objects.get())[2] == ("", 0)


def test_refresh_with_nothing_from_any_service_creates_nothing():
    assert projection.saga_refresh(order_id=ORDER, order=None, reservation=None, payment=None) is False
    assert not OrderSaga.objects.exists()
