"""Payments in batches, as the consumer applies them: a fixed handful of statements besides one
gateway call per charge, and every note applied in the batch's order."""

from decimal import Decimal

import pytest

from events.models import OutboxEvent
from events.publishing import outbox_batch
from payments import services
from payments.models import GatewayCharge, Payment

pytestmark = pytest.mark.django_db

TERMS = services.Terms(Decimal("12.00"), "EUR", "tok_visa")


def test_a_batch_costs_the_same_statements_besides_one_gateway_call_per_charge(django_assert_num_queries):
    orders = [f"o{n}" for n in range(20)]
    notes = [services.Note(o, terms=TERMS) for o in orders] + [
        services.Note(o, stock_held=True) for o in orders
    ]

    # new payments, lock them, a charge each at the gateway, write them, the outbox
    with django_assert_num_queries(2 + 20 + 1 + 1), outbox_batch():
        services.payments_apply(notes)

    assert Payment.objects.filter(status="captured").count() == 20
    assert GatewayCharge.objects.count() == 20
    assert OutboxEvent.objects.filter(event_type="PaymentProcessed").count() == 20


def test_notes_of_one_order_in_one_batch_apply_in_order():
    services.payments_apply(
        [
            services.Note("held-first", stock_held=True),
            services.Note("held-first", terms=TERMS),
            services.Note("ended-first", ended="out_of_stock"),
            services.Note("ended-first", terms=TERMS),
            services.Note("ended-first", stock_held=True),
            services.Note("refunded", terms=TERMS),
            services.Note("refunded", stock_held=True),
            services.Note("refunded", ended="cancelled by customer"),
            services.Note("never-seen", refund="refunded by reconciliation: charged_not_completed"),
        ]
    )

    statuses = dict(Payment.objects.values_list("order_id", "status"))
    assert statuses == {"held-first": "captured", "ended-first": "voided", "refunded": "refunded"}
    versions = dict(Payment.objects.values_list("order_id", "version"))
    assert versions == {"held-first": 1, "ended-first": 1, "refunded": 2}
    assert GatewayCharge.objects.filter(refunded=True).count() == 1
    refunded = OutboxEvent.objects.get(event_type="PaymentRefunded")
    assert (refunded.aggregate_id, refunded.sequence) == ("refunded", 2)
