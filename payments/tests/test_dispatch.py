"""The consumer's dispatcher (payments/dispatch.py): intents handed over are charged while the
consumer reads on, whatever the provider's latency; a full dispatcher says so (the loop pauses);
a process killed with calls in flight loses and doubles nothing; a gateway that stopped
answering is called one at a time. Against the running card gateway simulator and its ledger."""

import multiprocessing
import os
import signal
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connections

from events.models import OutboxEvent
from payments import dispatch, services
from payments.dispatch import ChargeDispatcher
from payments.gateway import GatewayUnavailable, gateway
from payments.models import Payment
from tests.polling import wait_until

pytestmark = pytest.mark.django_db(transaction=True)  # the dispatcher records on its own connection

TERMS = services.Terms(Decimal("12.00"), "EUR", "tok_visa")


def to_charge(orders: list[str]) -> list[services.Note]:
    return [services.Note(o, terms=TERMS, stock_held=True) for o in orders]


def statuses(orders: list[str]) -> set[str]:
    return set(Payment.objects.filter(order_id__in=orders).values_list("status", flat=True))


@pytest.fixture
def dispatcher_of():
    made = []

    def make(**options) -> ChargeDispatcher:
        made.append(ChargeDispatcher(**options))
        return made[-1]

    yield make
    for dispatcher in made:
        dispatcher.close(30)


@pytest.mark.parametrize("latency_ms", [300, 3000])
def test_intents_handed_over_are_charged_after_the_batch_returns_once_each(
    latency_ms, settings, card_gateway, dispatcher_of
):
    # given: a provider that takes its time, and a client that waits for it (the local stack's
    # timeout is 2 s)
    settings.PAYMENTS_GATEWAY_TIMEOUT_SECONDS = 10
    gateway.cache_clear()
    card_gateway.faults(latency_ms=latency_ms)
    dispatcher = dispatcher_of(concurrency=8, max_pending=100)
    orders = [str(uuid.uuid4()) for _ in range(16)]

    # when: the consumer's batch commits its intents and hands them over
    services.payments_apply(to_charge(orders), dispatch=dispatcher.submit)

    # then: the batch is done before any answer came
    assert statuses(orders) == {Payment.Status.CHARGING}
    assert dispatcher.pending() == 16
    # and every order is charged once, in two waves of 8 calls
    wait_until(lambda: statuses(orders) == {Payment.Status.CAPTURED}, timeout=60, message="every charge")
    assert all(len(card_gateway.ledger(o)) == 1 for o in orders)
    assert OutboxEvent.objects.filter(event_type="PaymentProcessed").count() == 16
    wait_until(lambda: dispatcher.pending() == 0, timeout=10, message="the dispatcher to be empty")


def test_a_dispatcher_holding_its_bound_is_full_until_its_calls_drain(card_gateway, dispatcher_of):
    card_gateway.faults(latency_ms=1000)
    dispatcher = dispatcher_of(concurrency=4, max_pending=6)
    orders = [str(uuid.uuid4()) for _ in range(6)]

    services.payments_apply(to_charge(orders), dispatch=dispatcher.submit)

    assert dispatcher.full()
    wait_until(lambda: not dispatcher.full(), timeout=30, message="room in the dispatcher")
    wait_until(lambda: statuses(orders) == {Payment.Status.CAPTURED}, timeout=30, message="every charge")


def test_an_intent_handed_over_twice_is_sent_once(monkeypatch, card_gateway, dispatcher_of):
    # given a gateway that takes its time, and every call counted
    card_gateway.faults(latency_ms=300)
    sent = []
    monkeypatch.setattr(
        dispatch, "intent_send", lambda intent: sent.append(intent) or services.intent_send(intent)
    )
    dispatcher = dispatcher_of(concurrency=4, max_pending=100)
    (order,) = orders = [str(uuid.uuid4())]
    services.payments_apply(to_charge(orders), dispatch=dispatcher.submit)

    # when the same intent is handed over again while its call is in flight
    dispatcher.submit([services.Intent.of(Payment.objects.get(order_id=order))])

    # then it is sent once
    wait_until(lambda: statuses(orders) == {Payment.Status.CAPTURED}, timeout=30, message="the charge")
    wait_until(lambda: dispatcher.pending() == 0, timeout=10, message="the dispatcher to be empty")
    assert [intent.order_id for intent in sent] == [order]


def test_a_process_killed_with_its_calls_in_flight_loses_nothing_and_the_retry_charges_once(
    settings, card_gateway
):
    # given: a gateway that charges at once and answers 3 s later, to a client that waits for it
    settings.PAYMENTS_INTENT_RETRY_SECONDS = -1
    settings.PAYMENTS_GATEWAY_TIMEOUT_SECONDS = 10
    card_gateway.faults(timeout_rate=1.0, late_ms=3000)
    orders = [str(uuid.uuid4()) for _ in range(8)]

    def consumer_process():
        gateway.cache_clear()
        dispatcher = ChargeDispatcher(concurrency=8, max_pending=100)
        services.payments_apply(to_charge(orders), dispatch=dispatcher.submit)
        threading.Event().wait()  # the calls in flight; killed before their answers come

    connections.close_all()  # the child opens its own
    process = multiprocessing.get_context("fork").Process(target=consumer_process, daemon=True)
    process.start()
    try:
        # when: the gateway has charged every order, and the process is killed before any answer
        wait_until(
            lambda: all(card_gateway.ledger(o) for o in orders), timeout=30, message="the gateway to charge"
        )
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.join(10)

    # then: the intents are still there, and the retry records each charge the gateway kept
    assert statuses(orders) == {Payment.Status.CHARGING}
    card_gateway.faults_reset()

    def retried() -> bool:
        services.payments_settle_stalled()  # a key still in flight at the gateway is a 409: later
        return statuses(orders) == {Payment.Status.CAPTURED}

    wait_until(retried, timeout=30, message="the retry to record every charge")
    assert all(len(card_gateway.ledger(o)) == 1 for o in orders)
    assert all(card_gateway.net(o) == TERMS.amount for o in orders)


def test_a_gateway_that_stopped_answering_is_not_asked_for_every_intent(settings, monkeypatch, dispatcher_of):
    # given a gateway that never answers, one attempt per call, and a dispatcher of 4 calls at once
    settings.PAYMENTS_GATEWAY_ATTEMPTS = 1
    asked = []

    class Down:
        def charge(self, **kwargs):
            asked.append(kwargs["order_id"])
            time.sleep(0.02)
            raise GatewayUnavailable("no answer")

    monkeypatch.setattr(services, "gateway", Down)
    dispatcher = dispatcher_of(concurrency=4, max_pending=100)
    orders = [str(uuid.uuid4()) for _ in range(40)]

    # when
    services.payments_apply(to_charge(orders), dispatch=dispatcher.submit)

    # then every intent is recorded as attempted and left for the periodic retry, and the
    # dispatcher is empty again (the consumer is not held), though few were asked
    wait_until(lambda: dispatcher.pending() == 0, timeout=60, message="every intent tried")
    assert statuses(orders) == {Payment.Status.CHARGING}
    assert Payment.objects.filter(order_id__in=orders, attempted_at__isnull=False).count() == 40
    assert 4 <= len(asked) < 20
