"""Payments: charge once both halves are known, never twice, and compensate when the order ends;
money moves in three steps (an intent committed, the gateway called outside any transaction, its
answer recorded), so that no crash, rollback or lost answer between them charges twice or loses
a charge. Every charge goes to the running card gateway simulator, whose own ledger is checked."""

from decimal import Decimal

import pytest
from django.db import transaction

from events.envelope import Envelope
from events.models import OutboxEvent
from payments import services, state
from payments.gateway import GatewayUnavailable, gateway
from payments.models import Payment

pytestmark = pytest.mark.django_db


def note_order(*, order_id: str, amount, currency: str, card_token: str, caused_by: Envelope) -> Payment:
    """OrderCreated, one order through payments_apply."""
    terms = services.Terms(amount, currency, card_token)
    services.payments_apply([services.Note(order_id, terms=terms, caused_by=caused_by)])
    return Payment.objects.get(order_id=order_id)


def note_stock_held(*, order_id: str, caused_by: Envelope) -> Payment:
    """InventoryReserved, one order through payments_apply."""
    services.payments_apply([services.Note(order_id, stock_held=True, caused_by=caused_by)])
    return Payment.objects.get(order_id=order_id)


def settle_ended_order(*, order_id: str, reason: str, caused_by: Envelope | None) -> Payment:
    """The order was cancelled or failed, one order through payments_apply."""
    services.payments_apply([services.Note(order_id, ended=reason, caused_by=caused_by)])
    return Payment.objects.get(order_id=order_id)


TOTAL = Decimal("12.00")


def cause(order_id: str) -> Envelope:
    return Envelope(
        event_type="T",
        version=1,
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=1,
        payload={},
        producer="tests",
        correlation_id=order_id,
    )


def order_created(order_id, card="tok_visa"):
    note_order(order_id=order_id, amount=TOTAL, currency="EUR", card_token=card, caused_by=cause(order_id))


def stock_held(order_id):
    note_stock_held(order_id=order_id, caused_by=cause(order_id))


def events(event_type: str) -> list[dict]:
    return [e.envelope["payload"] for e in OutboxEvent.objects.filter(event_type=event_type)]


def payment(order_id) -> Payment:
    return Payment.objects.get(order_id=order_id)


@pytest.fixture
def retry_at_once(settings):
    """The periodic retry takes every open intent, however recent."""
    settings.PAYMENTS_INTENT_RETRY_SECONDS = -1


@pytest.mark.parametrize("arrival", [(order_created, stock_held), (stock_held, order_created)])
def test_the_charge_happens_once_both_events_arrived_in_either_order(
    arrival, committed, order_id, card_gateway
):
    first, second = arrival

    committed(first, order_id)
    assert payment(order_id).status == Payment.Status.PENDING
    committed(second, order_id)

    charged = payment(order_id)
    assert (charged.status, charged.amount) == ("captured", TOTAL)
    assert charged.gateway_reference.startswith("pi_")
    assert [(p["status"], p["amount"]) for p in events("PaymentProcessed")] == [("succeeded", "12.00")]
    assert [(op["kind"], op["idempotency_key"]) for op in card_gateway.ledger(order_id)] == [
        ("charge", state.charge_key(order_id))
    ]
    assert card_gateway.net(order_id) == TOTAL


def test_the_outcome_names_the_event_that_opened_the_charge_as_its_cause(committed, order_id):
    committed(order_created, order_id)
    reserved = cause(order_id)
    committed(note_stock_held, order_id=order_id, caused_by=reserved)

    (processed,) = OutboxEvent.objects.filter(event_type="PaymentProcessed")
    assert processed.envelope["correlation_id"] == order_id
    assert processed.envelope["causation_id"] == reserved.event_id


def test_a_declined_card_is_reported_with_its_reason(committed, order_id, card_gateway):
    committed(order_created, order_id, card="tok_chargeDeclined")
    committed(stock_held, order_id)

    assert payment(order_id).status == Payment.Status.DECLINED
    assert [(p["status"], p["reason"]) for p in events("PaymentProcessed")] == [("failed", "generic_decline")]
    assert card_gateway.net(order_id) == 0


def test_events_arriving_again_never_charge_twice(committed, order_id, card_gateway):
    committed(order_created, order_id)
    committed(stock_held, order_id)
    committed(stock_held, order_id)
    committed(order_created, order_id)

    assert len(card_gateway.ledger(order_id)) == 1
    assert len(events("PaymentProcessed")) == 1


def test_an_order_that_ended_before_its_charge_is_never_charged(committed, order_id, card_gateway):
    committed(order_created, order_id)
    committed(settle_ended_order, order_id=order_id, reason="out_of_stock", caused_by=None)
    committed(stock_held, order_id)

    assert payment(order_id).status == Payment.Status.VOIDED
    assert card_gateway.ledger(order_id) == []


def test_an_order_cancelled_after_its_charge_is_refunded(committed, order_id, card_gateway):
    committed(order_created, order_id)
    committed(stock_held, order_id)

    committed(settle_ended_order, order_id=order_id, reason="cancelled", caused_by=None)

    refunded = payment(order_id)
    assert refunded.status == Payment.Status.REFUNDED
    assert refunded.refund_reference.startswith("re_")
    assert [(op["kind"], op["idempotency_key"]) for op in card_gateway.ledger(order_id)] == [
        ("charge", state.charge_key(order_id)),
        ("refund", state.refund_key(order_id)),
    ]
    assert card_gateway.net(order_id) == 0
    assert len(events("PaymentRefunded")) == 1


def test_support_can_refund_only_a_captured_payment(committed, order_id):
    committed(order_created, order_id, card="tok_chargeDeclined")
    committed(stock_held, order_id)

    with pytest.raises(services.RefundRefused) as refused:
        services.payment_refund(payment_id=payment(order_id).payment_id, by="support")

    assert refused.value.code == services.RefundRefused.NOT_CAPTURED


# --- the three steps, and a crash, a rollback or a lost answer between them ---


def test_a_process_killed_after_committing_the_intent_leaves_a_charge_that_the_retry_completes(
    order_id, card_gateway, retry_at_once
):
    # no commit callback runs: the process died right after its transaction committed
    order_created(order_id)
    stock_held(order_id)
    assert payment(order_id).status == Payment.Status.CHARGING
    assert card_gateway.ledger(order_id) == []
    assert events("PaymentProcessed") == []

    assert services.payments_settle_stalled() == 1

    assert payment(order_id).status == Payment.Status.CAPTURED
    assert len(card_gateway.ledger(order_id)) == 1
    assert len(events("PaymentProcessed")) == 1


def test_a_charge_whose_answer_was_lost_is_sent_again_with_its_key_and_charged_once(
    settings, committed, order_id, card_gateway, retry_at_once
):
    # the gateway charges, then answers after the client gave up; no attempt at once after it
    settings.PAYMENTS_GATEWAY_TIMEOUT_SECONDS = 0.5
    settings.PAYMENTS_GATEWAY_ATTEMPTS = 1
    gateway.cache_clear()
    card_gateway.faults(timeout_rate=1.0, late_ms=1500)
    committed(order_created, order_id)
    committed(stock_held, order_id)

    waiting = payment(order_id)
    assert waiting.status == Payment.Status.CHARGING
    assert waiting.attempted_at is not None
    ((charge),) = card_gateway.ledger(order_id)  # it was charged all the same
    assert events("PaymentProcessed") == []

    card_gateway.faults_reset()
    assert services.payments_settle_stalled() == 1

    charged = payment(order_id)
    assert (charged.status, charged.gateway_reference) == (Payment.Status.CAPTURED, charge["id"])
    assert len(card_gateway.ledger(order_id)) == 1
    assert card_gateway.net(order_id) == TOTAL


def test_a_lost_answer_is_recovered_at_once_by_the_next_attempt_with_its_key(
    settings, committed, order_id, card_gateway
):
    settings.PAYMENTS_GATEWAY_TIMEOUT_SECONDS = 0.5
    gateway.cache_clear()
    card_gateway.faults(timeout_rate=1.0, late_ms=1500)

    committed(order_created, order_id)
    committed(stock_held, order_id)

    # the second attempt got the answer the gateway kept for the key
    assert payment(order_id).status == Payment.Status.CAPTURED
    assert len(card_gateway.ledger(order_id)) == 1


def test_a_batch_rolled_back_after_its_intent_calls_no_gateway_and_charges_once_when_applied_again(
    committed, order_id, card_gateway
):
    committed(order_created, order_id)

    class Killed(Exception):
        pass

    def batch():
        with transaction.atomic():
            stock_held(order_id)
            raise Killed  # another message of the batch failed: the whole batch rolls back

    with pytest.raises(Killed):
        committed(batch)

    assert payment(order_id).status == Payment.Status.PENDING
    assert card_gateway.ledger(order_id) == []

    committed(stock_held, order_id)  # the batch, applied again

    assert payment(order_id).status == Payment.Status.CAPTURED
    assert len(card_gateway.ledger(order_id)) == 1


def test_an_order_that_ended_while_its_charge_was_in_flight_is_refunded_once_charged(
    order_id, card_gateway, retry_at_once
):
    order_created(order_id)
    stock_held(order_id)  # committed, the gateway not yet asked
    settle_ended_order(order_id=order_id, reason="timeout", caused_by=None)
    assert payment(order_id).status == Payment.Status.CHARGING

    services.payments_settle_stalled()

    assert payment(order_id).status == Payment.Status.REFUNDED
    assert [e["status"] for e in events("PaymentProcessed")] == ["succeeded"]
    assert len(events("PaymentRefunded")) == 1
    assert card_gateway.net(order_id) == 0


def test_a_refund_killed_before_the_gateway_heard_of_it_is_completed_by_the_retry(
    committed, order_id, card_gateway, retry_at_once
):
    committed(order_created, order_id)
    committed(stock_held, order_id)
    settle_ended_order(order_id=order_id, reason="cancelled", caused_by=None)  # killed here
    assert payment(order_id).status == Payment.Status.REFUNDING
    assert card_gateway.net(order_id) == TOTAL

    services.payments_settle_stalled()

    assert payment(order_id).status == Payment.Status.REFUNDED
    assert card_gateway.net(order_id) == 0


def test_a_gateway_that_fails_leaves_the_intent_and_no_event(committed, order_id, card_gateway):
    card_gateway.faults(error_rate=1.0)

    committed(order_created, order_id)
    committed(stock_held, order_id)

    assert payment(order_id).status == Payment.Status.CHARGING
    assert events("PaymentProcessed") == []
    assert card_gateway.ledger(order_id) == []


def test_a_gateway_that_stopped_answering_is_not_asked_for_every_intent_of_a_batch(settings, monkeypatch):
    settings.PAYMENTS_GATEWAY_CONCURRENCY = 2
    settings.PAYMENTS_GATEWAY_ATTEMPTS = 1
    asked = []

    class Down:
        def charge(self, **kwargs):
            asked.append(kwargs["order_id"])
            raise GatewayUnavailable("no answer")

    monkeypatch.setattr(services, "gateway", Down)
    services.payments_apply(
        [
            services.Note(f"o{n}", terms=services.Terms(TOTAL, "EUR", "tok_visa"), stock_held=True)
            for n in range(50)
        ]
    )

    services.payments_settle([f"o{n}" for n in range(50)])

    assert Payment.objects.filter(status=Payment.Status.CHARGING).count() == 50
    assert 2 <= len(asked) < 10


def test_the_state_machine_refuses_a_move_its_table_does_not_hold(committed, order_id):
    committed(order_created, order_id, card="tok_chargeDeclined")
    committed(stock_held, order_id)
    declined = payment(order_id)

    with pytest.raises(state.IllegalTransition) as refused:
        state.transition(declined, Payment.Status.REFUNDING)

    assert (refused.value.status, refused.value.to) == (Payment.Status.DECLINED, Payment.Status.REFUNDING)
