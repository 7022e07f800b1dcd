"""The simulator answers as Stripe documents its API: charges and refunds at most once per
idempotency key, Stripe's errors, faults on demand, and a ledger of what it did."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from card_gateway.models import IdempotentRequest, Operation

pytestmark = pytest.mark.django_db

KEY = "sk_test_oms_local"


@pytest.fixture
def api(client):
    def post(path, data, key=None, secret=KEY):
        headers = {"Authorization": f"Bearer {secret}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return client.post(path, data, headers=headers)

    return post


def charge(api, key="k1", token="tok_visa", amount="1250", order_id="o1", **extra):
    data = {
        "amount": amount,
        "currency": "eur",
        "confirm": "true",
        "payment_method_data[type]": "card",
        "payment_method_data[card][token]": token,
        "metadata[order_id]": order_id,
        **extra,
    }
    return api("/v1/payment_intents", data, key=key)


def ledger(client, *order_ids):
    return client.get("/_ledger", {"order_id": list(order_ids)}).json()["data"]


def test_a_charge_succeeds_and_the_same_key_replays_its_answer(api, client):
    first = charge(api)
    again = charge(api)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["status"] == "succeeded" and first.json()["id"].startswith("pi_")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [
        (op["kind"], op["amount"], op["status"], op["idempotency_key"]) for op in ledger(client, "o1")
    ] == [("charge", "12.50", "succeeded", "k1")]


def test_the_same_key_with_other_parameters_is_an_idempotency_error_and_runs_nothing(api, client):
    charge(api)

    response = charge(api, amount="9999")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"
    assert len(ledger(client, "o1")) == 1


def test_the_same_key_on_another_endpoint_is_an_idempotency_error(api):
    intent = charge(api).json()["id"]

    response = api("/v1/refunds", {"payment_intent": intent}, key="k1")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"


def in_flight(api, *, since=None):
    """A charge whose request is still running: its key taken, nothing performed yet."""
    charge(api)
    Operation.objects.all().delete()
    IdempotentRequest.objects.filter(key="k1").update(
        status_code=None, body="", created_at=since or timezone.now()
    )


def test_a_key_in_flight_gets_409_and_runs_nothing(api, client):
    in_flight(api)

    response = charge(api)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"
    assert ledger(client, "o1") == []


def test_a_key_abandoned_in_flight_runs_once_its_worker_is_long_gone(api, client):
    in_flight(api, since=timezone.now() - timedelta(minutes=5))

    response = charge(api)

    assert response.status_code == 200
    assert len(ledger(client, "o1")) == 1


def test_a_declined_card_is_a_402_card_error_kept_under_its_key(api, client):
    first = charge(api, token="tok_chargeDeclinedInsufficientFunds")
    again = charge(api, token="tok_chargeDeclinedInsufficientFunds")

    assert first.status_code == again.status_code == 402
    error = first.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "insufficient_funds",
    )
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert again.json() == first.json()
    assert [op["status"] for op in ledger(client, "o1")] == ["failed"]


def test_a_refund_gives_back_what_is_left_once(api, client):
    intent = charge(api).json()["id"]

    refund = api("/v1/refunds", {"payment_intent": intent}, key="r1")
    second = api("/v1/refunds", {"payment_intent": intent}, key="r2")

    assert refund.status_code == 200
    assert (refund.json()["amount"], refund.json()["status"]) == (1250, "succeeded")
    assert second.status_code == 400 and second.json()["error"]["code"] == "charge_already_refunded"
    assert [(op["kind"], op["amount"]) for op in ledger(client, "o1")] == [
        ("charge", "12.50"),
        ("refund", "12.50"),
    ]


def test_a_refund_of_an_unknown_or_declined_charge_is_refused(api):
    declined = charge(api, token="tok_chargeDeclined").json()["error"]["payment_intent"]["id"]

    assert api("/v1/refunds", {"payment_intent": "pi_nope"}).status_code == 404
    assert api("/v1/refunds", {"payment_intent": declined}).json()["error"]["code"] == "charge_not_refundable"


def test_a_transient_error_runs_nothing_and_keeps_nothing_under_the_key(api, client):
    client.post("/_faults", {"error_rate": 1.0}, content_type="application/json")

    failed = charge(api)
    client.delete("/_faults")
    retried = charge(api)

    assert failed.status_code == 500 and failed.headers["Stripe-Should-Retry"] == "true"
    assert retried.status_code == 200
    assert len(ledger(client, "o1")) == 1


def test_a_timeout_performs_the_charge_and_answers_late(api, client):
    client.post("/_faults", {"timeout_rate": 1.0, "late_ms": 0}, content_type="application/json")

    charge(api)

    assert len(ledger(client, "o1")) == 1
    assert IdempotentRequest.objects.get(key="k1").status_code == 200  # a retry gets the answer


def test_invalid_parameters_are_refused_and_leave_the_key_free(api, client):
    bad = charge(api, amount="-5")
    good = charge(api)

    assert bad.status_code == 400 and bad.json()["error"]["param"] == "amount"
    assert good.status_code == 200


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"currency": "euro"}, "currency"),
        ({"confirm": "false"}, "confirm"),
        ({"amount": "100000000"}, "amount"),
        ({"amount": "12.50"}, "amount"),
        ({"metadata[x]": "y" * 501}, "metadata"),
    ],
)
def test_hostile_or_unsupported_parameters_get_a_400_naming_the_parameter(api, client, extra, param):
    response = charge(api, key=None, **extra)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert ledger(client, "o1") == []


def test_an_unknown_token_is_resource_missing(api):
    response = charge(api, token="tok_" + "x" * 5000)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "resource_missing"
    assert len(response.content) < 1000


def test_an_overlong_idempotency_key_is_refused(api):
    assert charge(api, key="k" * 256).status_code == 400


def test_a_wrong_secret_key_is_401_and_runs_nothing(api):
    response = api("/v1/payment_intents", {"amount": "100"}, secret="sk_test_wrong")

    assert response.status_code == 401
    assert not Operation.objects.exists()


def test_a_payment_intent_can_be_read_back(api, client):
    intent = charge(api).json()

    response = client.get(f"/v1/payment_intents/{intent['id']}", headers={"Authorization": f"Bearer {KEY}"})

    assert response.json() == intent


def test_faults_are_set_read_and_reset(client):
    set_ = client.post(
        "/_faults",
        {"error_rate": 0.15, "timeout_rate": 0.15, "latency_ms": 20},
        content_type="application/json",
    )
    read = client.get("/_faults").json()
    reset = client.delete("/_faults").json()

    assert set_.status_code == 200
    assert read == {"error_rate": 0.15, "timeout_rate": 0.15, "latency_ms": 20, "late_ms": 3000}
    assert reset == {"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 0, "late_ms": 3000}


@pytest.mark.parametrize(
    "body",
    [{"error_rate": 2}, {"latency_ms": -1}, {"latency_ms": 1.5}, {"chaos": 1}, {"error_rate": True}, [1]],
)
def test_bad_faults_are_refused_and_change_nothing(client, body):
    response = client.post("/_faults", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert client.get("/_faults").json()["error_rate"] == 0.0


def test_the_ledger_needs_orders_and_lists_only_theirs(api, client):
    charge(api, key="a", order_id="a")
    charge(api, key="b", order_id="b")

    assert client.get("/_ledger").status_code == 400
    assert [op["order_id"] for op in ledger(client, "a")] == ["a"]
    assert sorted(op["order_id"] for op in ledger(client, "a", "b", str(uuid.uuid4()))) == ["a", "b"]
