"""What the simulated provider does: charge a card and refund a charge, each at most once per
idempotency key, as Stripe documents its API (https://docs.stripe.com/api/idempotent_requests):

- the first request with a key runs, and its answer is kept, a declined card's 402 included;
- the same key with the same parameters gets that answer again (`Idempotent-Replayed: true`);
- the same key with other parameters, or on another endpoint, is a 400 `idempotency_error`;
- while the first is in flight, the same key gets a 409 and nothing runs;
- a request that fails validation, or that a fault turned away before it ran, keeps nothing.

An operation and the answer kept for its key commit in one transaction: a key whose request
never finished (its worker died) performed nothing, and is run again once abandoned.
"""

import hashlib
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from card_gateway.models import Faults, IdempotentRequest, Operation

# Stripe's test cards, as tokens (tok_...) and as payment methods (pm_card_...).
APPROVED = {"tok_visa", "tok_mastercard", "pm_card_visa", "pm_card_mastercard"}
DECLINES = {
    "tok_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclined": "generic_decline",
    "tok_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
}
# Currencies without a minor unit: an amount of 500 is 500 yen, not 5.00 (Stripe's list).
ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw",
    "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
}  # fmt: skip
MAX_AMOUNT = 99_999_999  # Stripe's largest charge, in the smallest unit
MAX_KEY = 255
MAX_METADATA_KEYS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 50, 40, 500
MAX_LEDGER_ORDERS = 1000


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    replayed: bool = False


@dataclass
class ApiError(Exception):
    """An error answer, shaped as Stripe's: {"error": {"type", "message", "code", "param"}}."""

    status: int
    type: str
    message: str
    code: str = ""
    param: str = ""
    extra: dict = field(default_factory=dict)
    # Stripe-Should-Retry: the request did not run, so running it again is safe.
    should_retry: bool = False

    def answer(self) -> Answer:
        error = {"type": self.type, "message": self.message, **self.extra}
        error.update({k: v for k, v in (("code", self.code), ("param", self.param)) if v})
        return Answer(self.status, {"error": error})


# --- faults ---


def faults_current() -> Faults:
    """The injected faults, read afresh by every request (one indexed read, so every worker
    process sees a change at once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT error_rate, timeout_rate, latency_ms, late_ms FROM card_gateway_faults WHERE id = 1"
        )
        row = cursor.fetchone()
    if row is None:
        return Faults.objects.get_or_create(pk=1)[0]
    return Faults(1, *row)


def faults_set(values: dict) -> Faults:
    """Replace the injected faults: what `values` names, and the defaults for the rest."""
    allowed = {"error_rate": float, "timeout_rate": float, "latency_ms": int, "late_ms": int}
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ApiError(400, "invalid_request_error", f"unknown faults {unknown}; known: {sorted(allowed)}")
    faults = Faults(pk=1)
    for name, kind in allowed.items():
        if name not in values:
            continue
        value = values[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and value != int(value))
        ):
            raise ApiError(400, "invalid_request_error", f"{name} must be a {kind.__name__}", param=name)
        low, high = (0, 1) if kind is float else (0, 60_000)
        if not low <= value <= high:
            raise ApiError(400, "invalid_request_error", f"{name} must be from {low} to {high}", param=name)
        setattr(faults, name, kind(value))
    faults.save()
    return faults


def faults_reset() -> Faults:
    return faults_set({})


def faults_as_dict(faults: Faults) -> dict:
    return {
        "error_rate": faults.error_rate,
        "timeout_rate": faults.timeout_rate,
        "latency_ms": faults.latency_ms,
        "late_ms": faults.late_ms,
    }


# --- requests with side effects ---


def request_run(*, endpoint: str, params: dict, key: str | None, perform) -> Answer:
    """Run `perform(params, key)` as the provider runs a POST: faults first, then at most once
    per idempotency key. A "timeout" fault performs the request and answers it too late."""
    faults = faults_current()
    if faults.error_rate and random.random() < faults.error_rate:
        return ApiError(
            500, "api_error", "The card gateway had a transient error (simulated); retry with the same key",
            should_retry=True,
        ).answer()  # fmt: skip
    if key is not None:
        if not key or len(key) > MAX_KEY:
            return ApiError(
                400, "invalid_request_error", f"Idempotency-Key must be 1 to {MAX_KEY} characters"
            ).answer()
        saved = _idempotency_begin(key, endpoint, _fingerprint(params))
        if saved is not None:
            return saved
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000)  # the simulated provider's own work
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            answer = perform(params, key or "")
            if key is not None:
                cursor.execute(
                    "UPDATE card_gateway_idempotentrequest SET status_code = %s, body = %s WHERE key = %s",
                    [answer.status, json.dumps(answer.body), key],
                )
    except Exception as exc:
        # Invalid parameters, or a failure before the commit: nothing ran, so the key keeps nothing.
        if key is not None:
            IdempotentRequest.objects.filter(key=key, status_code=None).delete()
        if isinstance(exc, ApiError):
            return exc.answer()
        raise
    if faults.timeout_rate and random.random() < faults.timeout_rate:
        time.sleep(faults.late_ms / 1000)  # done, but the answer comes after the client gave up
    return answer


def _fingerprint(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _idempotency_begin(key: str, endpoint: str, fingerprint: str) -> Answer | None:
    """The kept answer for `key`, or None once this request holds the key (in flight)."""
    with transaction.atomic(), connection.cursor() as cursor:
        # One statement takes a new key (the usual case); the model is read only for a key seen before.
        cursor.execute(
            "INSERT INTO card_gateway_idempotentrequest"
            " (key, endpoint, fingerprint, status_code, body, created_at)"
            " VALUES (%s, %s, %s, NULL, '', %s) ON CONFLICT (key) DO NOTHING",
            [key, endpoint, fingerprint, timezone.now()],
        )
        if cursor.rowcount == 1:
            return None
        row = IdempotentRequest.objects.get(key=key)
        if (row.endpoint, row.fingerprint) != (endpoint, fingerprint):
            return ApiError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first "
                f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
            ).answer()
        if row.status_code is None:
            abandoned = timezone.now() - timedelta(seconds=settings.CARD_GATEWAY_ABANDONED_SECONDS)
            if row.created_at < abandoned:
                row.created_at = timezone.now()  # its worker died before it ran: run it now
                row.save(update_fields=["created_at"])
                return None
            return ApiError(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Idempotency-Key "
                f"({key}); try again later.",
                code="idempotency_key_in_use",
            ).answer()
        return Answer(row.status_code, json.loads(row.body), replayed=True)


# --- charges and refunds ---


def charge_create(params: dict, key: str) -> Answer:
    """POST /v1/payment_intents with confirm=true: charge the card now, in full."""
    amount = _amount(params.get("amount"), required=True)
    currency = _currency(params.get("currency"))
    if params.get("confirm") != "true":
        raise ApiError(
            400,
            "invalid_request_error",
            "This gateway only charges at creation: pass confirm=true",
            param="confirm",
        )
    card = params.get("payment_method_data", {})
    token = (card.get("card", {}) if isinstance(card, dict) else {}).get("token") or params.get(
        "payment_method"
    )
    if not isinstance(token, str) or not token:
        raise ApiError(
            400,
            "invalid_request_error",
            "Pass a card: payment_method, or payment_method_data[card][token]",
            param="payment_method",
        )
    if token not in APPROVED and token not in DECLINES:
        raise ApiError(
            400, "invalid_request_error", f"No such token: '{token[:100]}'", code="resource_missing"
        )
    metadata = _metadata(params.get("metadata", {}))
    decline = DECLINES.get(token, "")
    intent = _operation_add(
        id=f"pi_{secrets.token_hex(12)}",
        kind=Operation.Kind.CHARGE,
        status=Operation.Status.FAILED if decline else Operation.Status.SUCCEEDED,
        amount=amount,
        currency=currency,
        decline_code=decline,
        order_id=metadata.get("order_id", "")[:100],
        metadata=metadata,
        idempotency_key=key,
    )
    if decline:
        return ApiError(
            402,
            "card_error",
            "Your card was declined.",
            code="card_declined",
            extra={"decline_code": decline, "payment_intent": intent_as_dict(intent)},
        ).answer()
    return Answer(200, intent_as_dict(intent))


def refund_create(params: dict, key: str) -> Answer:
    """POST /v1/refunds: give back a succeeded charge, in full or `amount` of what is left."""
    intent_id = params.get("payment_intent")
    if not isinstance(intent_id, str) or not intent_id:
        raise ApiError(
            400, "invalid_request_error", "Pass the payment_intent to refund", param="payment_intent"
        )
    intent = Operation.objects.filter(id=intent_id, kind=Operation.Kind.CHARGE).first()
    if intent is None:
        raise ApiError(
            404,
            "invalid_request_error",
            f"No such payment_intent: '{intent_id[:100]}'",
            code="resource_missing",
        )
    if intent.status != Operation.Status.SUCCEEDED:
        raise ApiError(
            400,
            "invalid_request_error",
            f"PaymentIntent {intent.id} was not charged: nothing to refund",
            code="charge_not_refundable",
        )
    left = intent.amount - sum(
        r.amount for r in intent.refunds.all() if r.status == Operation.Status.SUCCEEDED
    )
    if left == 0:
        raise ApiError(
            400, "invalid_request_error", f"PaymentIntent {intent.id} has already been refunded.",
            code="charge_already_refunded",
        )  # fmt: skip
    amount = _amount(params.get("amount"), required=False) or left
    if amount > left:
        raise ApiError(
            400, "invalid_request_error", f"Refund amount {amount} is greater than what is left ({left})",
            code="amount_too_large", param="amount",
        )  # fmt: skip
    metadata = _metadata(params.get("metadata", {}))
    refund = _operation_add(
        id=f"re_{secrets.token_hex(12)}",
        kind=Operation.Kind.REFUND,
        status=Operation.Status.SUCCEEDED,
        amount=amount,
        currency=intent.currency,
        order_id=intent.order_id,
        metadata=metadata,
        payment_intent=intent,
        idempotency_key=key,
    )
    return Answer(200, refund_as_dict(refund))


def _operation_add(**fields) -> Operation:
    """Record an operation with one INSERT, as every charge and refund does (the ORM's create()
    cost the simulator more CPU than the rest of a charge: it shares the cores it is tested on)."""
    operation = Operation(created_at=timezone.now(), **fields)
    columns = Operation._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Operation._meta.db_table} ({', '.join(f.column for f in columns)})"
            f" VALUES ({', '.join(['%s'] * len(columns))})",
            [f.get_db_prep_save(getattr(operation, f.attname), connection) for f in columns],
        )
    return operation


def intent_get(intent_id: str) -> Answer:
    intent = Operation.objects.filter(id=intent_id, kind=Operation.Kind.CHARGE).first()
    if intent is None:
        return ApiError(
            404,
            "invalid_request_error",
            f"No such payment_intent: '{intent_id[:100]}'",
            code="resource_missing",
        ).answer()
    return Answer(200, intent_as_dict(intent))


def intent_as_dict(intent: Operation) -> dict:
    succeeded = intent.status == Operation.Status.SUCCEEDED
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_received": intent.amount if succeeded else 0,
        "currency": intent.currency,
        "status": "succeeded" if succeeded else "requires_payment_method",
        "metadata": intent.metadata,
        "created": int(intent.created_at.timestamp()),
        "livemode": False,
    }


def refund_as_dict(refund: Operation) -> dict:
    return {
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "currency": refund.currency,
        "payment_intent": refund.payment_intent_id,
        "status": refund.status,
        "metadata": refund.metadata,
        "created": int(refund.created_at.timestamp()),
    }


# --- the ledger (tests and make chaos) ---


def ledger_of(order_ids: list[str]) -> list[dict]:
    """Every operation performed for the orders, oldest first; amounts as decimal strings."""
    if not order_ids or len(order_ids) > MAX_LEDGER_ORDERS:
        raise ApiError(400, "invalid_request_error", f"Name 1 to {MAX_LEDGER_ORDERS} orders: ?order_id=...")
    return [
        {
            "id": op.id,
            "kind": op.kind,
            "order_id": op.order_id,
            "amount": str(major_units(op.amount, op.currency)),
            "currency": op.currency,
            "status": op.status,
            "decline_code": op.decline_code,
            "idempotency_key": op.idempotency_key,
            "payment_intent": op.payment_intent_id,
            "created": op.created_at.isoformat(),
        }
        for op in Operation.objects.filter(order_id__in=order_ids)
    ]


def major_units(amount: int, currency: str) -> Decimal:
    return Decimal(amount) if currency in ZERO_DECIMAL else Decimal(amount).scaleb(-2)


def _amount(value, *, required: bool) -> int | None:
    if value is None and not required:
        return None
    if (
        not isinstance(value, str)
        or not value.isascii()
        or not value.isdigit()
        or not 0 < int(value) <= MAX_AMOUNT
    ):
        raise ApiError(
            400,
            "invalid_request_error",
            f"amount must be a whole number of the currency's smallest unit, from 1 to {MAX_AMOUNT}",
            param="amount",
        )
    return int(value)


def _currency(value) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isascii() or not value.isalpha():
        raise ApiError(
            400, "invalid_request_error", "currency must be a three-letter ISO code", param="currency"
        )
    return value.lower()


def _metadata(value) -> dict:
    if not isinstance(value, dict) or len(value) > MAX_METADATA_KEYS:
        raise ApiError(
            400, "invalid_request_error", f"metadata holds up to {MAX_METADATA_KEYS} keys", param="metadata"
        )
    for name, item in value.items():
        if len(name) > MAX_METADATA_KEY or not isinstance(item, str) or len(item) > MAX_METADATA_VALUE:
            raise ApiError(
                400,
                "invalid_request_error",
                f"metadata keys are up to {MAX_METADATA_KEY} characters, values strings of up to "
                f"{MAX_METADATA_VALUE}",
                param="metadata",
            )
    return value
