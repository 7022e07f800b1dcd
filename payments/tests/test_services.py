"""Payments: charge once both halves are known, never twice, and compensate when the order ends."""

from decimal import Decimal

import pytest

from events.envelope import Envelope
from events.models import OutboxEvent
from payments import services
from payments.gateway import GatewayUnavailable, SimulatedGateway
from payments.models import GatewayCharge, Payment

pytestmark = pytest.mark.django_db


def cause() -> Envelope:
    return Envelope(
        event_type="T",
        version=1,
        aggregate_type="order",
        aggregate_id="o1",
        sequence=1,
        payload={},
        producer="tests",
        correlation_id="o1",
    )


def order_created(card="tok_visa"):
    services.payment_note_order(
        order_id="o1", amount=Decimal("12.00"), currency="EUR", card_token=card, caused_by=cause()
    )


def stock_held():
    services.payment_note_stock_held(order_id="o1", caused_by=cause())


def processed() -> list[dict]:
    return [e.envelope["payload"] for e in OutboxEvent.objects.filter(event_type="PaymentProcessed")]


@pytest.mark.parametrize("arrival", [(order_created, stock_held), (stock_held, order_created)])
def test_the_charge_happens_once_both_events_arrived_in_either_order(arrival):
    first, second = arrival

    first()
    assert Payment.objects.get().status == Payment.Status.PENDING
    second()

    payment = Payment.objects.get()
    assert (payment.status, payment.amount) == ("captured", Decimal("12.00"))
    assert [(p["status"], p["amount"]) for p in processed()] == [("succeeded", "12.00")]


def test_a_declined_card_is_reported_with_its_reason():
    order_created(card="tok_chargeDeclined")
    stock_held()

    assert Payment.objects.get().status == Payment.Status.DECLINED
    assert [(p["status"], p["reason"]) for p in processed()] == [("failed", "card_declined")]


def test_events_arriving_again_never_charge_twice():
    order_created()
    stock_held()
    stock_held()
    order_created()

    assert GatewayCharge.objects.count() == 1
    assert len(processed()) == 1


def test_an_order_that_ended_before_its_charge_is_never_charged():
    order_created()
    services.payment_settle_ended_order(order_id="o1", reason="out_of_stock", caused_by=cause())
    stock_held()

    assert Payment.objects.get().status == Payment.Status.VOIDED
    assert not GatewayCharge.objects.exists()


def test_an_order_cancelled_after_its_charge_is_refunded():
    order_created()
    stock_held()

    services.payment_settle_ended_order(order_id="o1", reason="cancelled", caused_by=cause())

    assert Payment.objects.get().status == Payment.Status.REFUNDED
    assert GatewayCharge.objects.get().refunded
    assert OutboxEvent.objects.filter(event_type="PaymentRefunded").count() == 1


def test_support_can_refund_only_a_captured_payment():
    order_created(card="tok_chargeDeclined")
    stock_held()

    with pytest.raises(ValueError, match="only captured payments can be refunded"):
        services.payment_refund(payment_id=Payment.objects.get().payment_id, by="support")


def test_the_gateway_answers_a_repeated_idempotency_key_with_the_first_result():
    gateway = SimulatedGateway()

    first = gateway.charge(idempotency_key="k", amount=Decimal("5"), card_token="tok_visa")
    again = gateway.charge(idempotency_key="k", amount=Decimal("5"), card_token="tok_visa")

    assert first == again
    assert GatewayCharge.objects.count() == 1


def test_the_gateway_can_be_made_to_fail_transiently():
    with pytest.raises(GatewayUnavailable):
        SimulatedGateway(error_rate=1.0).charge(
            idempotency_key="k", amount=Decimal("5"), card_token="tok_visa"
        )
