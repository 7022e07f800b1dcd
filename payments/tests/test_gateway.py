"""The gateway client (the stripe SDK) against the running simulator: answers, declines, keys."""

from decimal import Decimal

import pytest

from payments.gateway import GatewayRefused, GatewayUnavailable, gateway, minor_units


def charge(order_id, key, card="tok_visa", amount=Decimal("12.50")):
    return gateway().charge(
        idempotency_key=key, order_id=order_id, amount=amount, currency="EUR", card_token=card
    )


def test_a_charge_is_approved_and_a_repeated_key_gets_the_first_answer(order_id, card_gateway):
    first = charge(order_id, f"{order_id}-k")
    again = charge(order_id, f"{order_id}-k")

    assert first.approved and first.reference.startswith("pi_")
    assert again == first
    ((op),) = card_gateway.ledger(order_id)
    assert (op["kind"], op["amount"], op["status"]) == ("charge", "12.50", "succeeded")


def test_a_declined_card_is_an_answer_with_the_gateways_reason(order_id):
    result = charge(order_id, f"{order_id}-k", card="tok_chargeDeclinedInsufficientFunds")

    assert (result.approved, result.decline_code) == (False, "insufficient_funds")


def test_a_refund_gives_the_whole_charge_back_once(order_id, card_gateway):
    reference = charge(order_id, f"{order_id}-c").reference

    first = gateway().refund(idempotency_key=f"{order_id}-r", order_id=order_id, reference=reference)
    again = gateway().refund(idempotency_key=f"{order_id}-r", order_id=order_id, reference=reference)
    elsewhere = gateway().refund(idempotency_key=f"{order_id}-other", order_id=order_id, reference=reference)

    assert first.startswith("re_") and again == first
    assert elsewhere == ""  # already refunded under another key: the money is back already
    assert card_gateway.net(order_id) == 0


def test_the_same_key_with_another_amount_is_refused(order_id):
    charge(order_id, f"{order_id}-k")

    with pytest.raises(GatewayRefused, match="IdempotencyError"):
        charge(order_id, f"{order_id}-k", amount=Decimal("99.00"))


def test_an_unanswered_call_is_unavailable_though_the_gateway_acted(settings, order_id, card_gateway):
    settings.PAYMENTS_GATEWAY_TIMEOUT_SECONDS = 0.3
    gateway.cache_clear()
    card_gateway.faults(timeout_rate=1.0, late_ms=1000)

    with pytest.raises(GatewayUnavailable):
        charge(order_id, f"{order_id}-k")

    assert len(card_gateway.ledger(order_id)) == 1


def test_a_transient_error_is_unavailable_and_charges_nothing(order_id, card_gateway):
    card_gateway.faults(error_rate=1.0)

    with pytest.raises(GatewayUnavailable, match="500"):
        charge(order_id, f"{order_id}-k")

    assert card_gateway.ledger(order_id) == []


def test_a_wrong_secret_key_is_refused(settings, order_id):
    settings.PAYMENTS_GATEWAY_API_KEY = "sk_test_wrong"
    gateway.cache_clear()

    with pytest.raises(GatewayRefused, match="401"):
        charge(order_id, f"{order_id}-k")


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [(Decimal("12.50"), "EUR", 1250), (Decimal("500"), "JPY", 500), (Decimal("0.01"), "USD", 1)],
)
def test_amounts_go_in_the_currencys_smallest_unit(amount, currency, units):
    assert minor_units(amount, currency) == units


def test_an_amount_finer_than_the_currency_is_refused():
    with pytest.raises(GatewayRefused, match="smallest unit"):
        minor_units(Decimal("1.005"), "EUR")
