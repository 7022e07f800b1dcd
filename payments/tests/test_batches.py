"""Payments in batches, as the consumer applies them: a fixed handful of statements whatever the
batch's size, the gateway called after the commit (a fixed handful more for all its answers),
and every note applied in the batch's order."""

import uuid
from decimal import Decimal

import pytest

from events.models import OutboxEvent
from events.publishing import outbox_batch
from payments import services
from payments.models import Payment

pytestmark = pytest.mark.django_db

TERMS = services.Terms(Decimal("12.00"), "EUR", "tok_visa")


def test_a_batch_costs_the_same_statements_whatever_its_size(
    django_assert_num_queries, django_capture_on_commit_callbacks, card_gateway
):
    orders = [str(uuid.uuid4()) for _ in range(20)]
    notes = [services.Note(o, terms=TERMS) for o in orders] + [
        services.Note(o, stock_held=True) for o in orders
    ]

    # new payments, lock them, write them (as intents): no gateway call inside the transaction
    with django_assert_num_queries(3), outbox_batch(), django_capture_on_commit_callbacks() as after_commit:
        services.payments_apply(notes)
    assert Payment.objects.filter(status="charging").count() == 20

    # after the commit: 20 gateway calls (the intents as the batch wrote them, not read again),
    # then in a transaction of its own (a savepoint in a test, and its release) lock, write, the outbox
    with django_assert_num_queries(2 + 3):
        for callback in after_commit:
            callback()

    assert Payment.objects.filter(status="captured").count() == 20
    assert all(len(card_gateway.ledger(o)) == 1 for o in orders)
    assert OutboxEvent.objects.filter(event_type="PaymentProcessed").count() == 20


def test_notes_of_one_order_in_one_batch_apply_in_order(committed, card_gateway):
    held_first, ended_first, refunded, never_seen = (str(uuid.uuid4()) for _ in range(4))
    committed(
        services.payments_apply,
        [
            services.Note(held_first, stock_held=True),
            services.Note(held_first, terms=TERMS),
            services.Note(ended_first, ended="out_of_stock"),
            services.Note(ended_first, terms=TERMS),
            services.Note(ended_first, stock_held=True),
            services.Note(refunded, terms=TERMS),
            services.Note(refunded, stock_held=True),
            services.Note(refunded, ended="cancelled by customer"),
            services.Note(never_seen, refund="refunded by reconciliation: charged_not_completed"),
        ],
    )

    statuses = dict(Payment.objects.values_list("order_id", "status"))
    assert statuses == {held_first: "captured", ended_first: "voided", refunded: "refunded"}
    versions = dict(Payment.objects.values_list("order_id", "version"))
    assert versions == {held_first: 1, ended_first: 1, refunded: 2}
    assert card_gateway.net(refunded) == 0 and len(card_gateway.ledger(refunded)) == 2
    assert card_gateway.ledger(ended_first) == []
    (processed,) = OutboxEvent.objects.filter(event_type="PaymentProcessed", aggregate_id=refunded)
    (refund,) = OutboxEvent.objects.filter(event_type="PaymentRefunded")
    assert (processed.sequence, refund.aggregate_id, refund.sequence) == (1, refunded, 2)
