"""Every change to payments: learning of an order and of its held stock, charging once both are
known, and voiding or refunding when the order ends otherwise (compensation).

payments_apply() takes a batch of what events say of orders (a consumer's poll batch, or the one
order an admin action names) and applies it with a fixed handful of statements whatever its size
(payments/sql.py): a payment for every order that has none yet, every payment locked in
order_id order, each note applied in the batch's order in memory (charging through the gateway
as soon as an order's details and its held stock are both known), then one write of every
payment that changed and the events through the outbox.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from events.envelope import Envelope
from events.ids import new_id
from events.publishing import publish
from payments import sql
from payments.gateway import gateway
from payments.models import Payment

Status = Payment.Status


@dataclass(frozen=True)
class Terms:
    """What OrderCreated says the order is to be charged."""

    amount: Decimal
    currency: str
    card_token: str


@dataclass(frozen=True)
class Note:
    """One thing learnt of an order: its terms (OrderCreated), that its stock is held
    (InventoryReserved), that it ended otherwise (`ended`: the reason; cancelled or failed), or
    that it is to be refunded (`refund`: why; support or reconciliation)."""

    order_id: str
    terms: Terms | None = None
    stock_held: bool = False
    ended: str = ""
    refund: str = ""
    caused_by: Envelope | None = None


@dataclass
class _Row:
    """A payment as PAYMENTS_LOCK reads it and PAYMENTS_WRITE writes it."""

    order_id: str
    payment_id: str
    status: str
    amount: Decimal | None
    currency: str
    card_token: str
    stock_held: bool
    gateway_reference: str
    failure_reason: str
    version: int
    processed_at: object
    refunded_at: object


def payments_apply(notes: list[Note]) -> None:
    """Apply `notes` in their order (in the caller's transaction, or one of its own)."""
    if not notes:
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # A refund never makes a payment; anything else may be the first news of an order.
        new = sorted({note.order_id for note in notes if not note.refund})
        if new:
            sql.PAYMENTS_ENSURE.execute(cursor, [[str(new_id()) for _ in new], new])
        sql.PAYMENTS_LOCK.execute(cursor, [sorted({note.order_id for note in notes})])
        payments = {row[0]: _Row(*row) for row in cursor.fetchall()}
        changed: dict[str, _Row] = {}
        for note in notes:
            payment = payments.get(note.order_id)
            if payment is not None and _apply(payment, note):
                changed[payment.order_id] = payment
        if changed:
            sql.PAYMENTS_WRITE.execute(cursor, _columns(changed.values()))


def _apply(payment: _Row, note: Note) -> bool:
    """Apply one note to `payment` in memory; whether it changed."""
    changed = False
    if note.terms is not None and payment.amount is None:
        payment.amount, payment.currency, payment.card_token = (
            note.terms.amount,
            note.terms.currency,
            note.terms.card_token,
        )
        changed = True
    if note.stock_held and not payment.stock_held:
        payment.stock_held = changed = True
    if note.ended:
        if payment.status == Status.PENDING:
            # Never charged, and now never to be.
            payment.status, payment.failure_reason = Status.VOIDED, note.ended[:100]
            payment.version += 1
            return True
        if payment.status == Status.CAPTURED:
            _refund(payment, note.caused_by)
            return True
        return changed
    if note.refund:
        if payment.status != Status.CAPTURED:
            return changed
        payment.failure_reason = note.refund[:100]
        _refund(payment, note.caused_by)
        return True
    if payment.status == Status.PENDING and payment.amount is not None and payment.stock_held:
        _charge(payment, note.caused_by)
        return True
    return changed


def _charge(payment: _Row, caused_by: Envelope | None) -> None:
    result = gateway().charge(
        idempotency_key=payment.payment_id, amount=payment.amount, card_token=payment.card_token
    )
    payment.status = Status.CAPTURED if result.approved else Status.DECLINED
    payment.gateway_reference = result.reference
    payment.failure_reason = result.decline_code
    payment.processed_at = timezone.now()
    payment.version += 1
    _publish(
        "PaymentProcessed",
        payment,
        {"status": "succeeded" if result.approved else "failed", "reason": result.decline_code},
        caused_by,
    )


def _refund(payment: _Row, caused_by: Envelope | None) -> None:
    gateway().refund(reference=payment.gateway_reference)
    payment.status = Status.REFUNDED
    payment.refunded_at = timezone.now()
    payment.version += 1
    _publish("PaymentRefunded", payment, {}, caused_by)


def _publish(event_type: str, payment: _Row, payload: dict, caused_by: Envelope | None) -> None:
    publish(
        event_type,
        aggregate_type="order",
        aggregate_id=payment.order_id,
        sequence=payment.version,
        payload={
            "order_id": payment.order_id,
            "payment_id": payment.payment_id,
            "amount": payment.amount,
            **payload,
        },
        caused_by=caused_by,
    )


def _columns(rows) -> list[list]:
    rows = list(rows)
    return [
        [r.order_id for r in rows],
        [r.status for r in rows],
        [r.amount for r in rows],
        [r.currency for r in rows],
        [r.card_token for r in rows],
        [r.stock_held for r in rows],
        [r.gateway_reference for r in rows],
        [r.failure_reason for r in rows],
        [r.version for r in rows],
        [r.processed_at for r in rows],
        [r.refunded_at for r in rows],
    ]


# --- one order at a time: the admin, reconciliation's commands in tests, and the tests ---


def payment_note_order(
    *, order_id: str, amount, currency: str, card_token: str, caused_by: Envelope
) -> Payment:
    """OrderCreated: remember what to charge; charge now if the stock is already held."""
    payments_apply([Note(order_id, terms=Terms(amount, currency, card_token), caused_by=caused_by)])
    return Payment.objects.get(order_id=order_id)


def payment_note_stock_held(*, order_id: str, caused_by: Envelope) -> Payment:
    """InventoryReserved: the stock is held; charge now if the order's details are known."""
    payments_apply([Note(order_id, stock_held=True, caused_by=caused_by)])
    return Payment.objects.get(order_id=order_id)


def payment_settle_ended_order(*, order_id: str, reason: str, caused_by: Envelope | None) -> Payment:
    """The order was cancelled or failed: never charge it; refund it if it was charged."""
    payments_apply([Note(order_id, ended=reason, caused_by=caused_by)])
    return Payment.objects.get(order_id=order_id)


def payment_refund(*, payment_id, by: str) -> Payment:
    """Support's refund of a captured payment (admin)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(payment_id=payment_id)
        if payment.status != Status.CAPTURED:
            raise ValueError(
                f"payment {payment.payment_id} is {payment.status}; only captured payments can be refunded"
            )
        payments_apply([Note(payment.order_id, refund=f"refunded by {by}")])
    payment.refresh_from_db()
    return payment


def payment_refund_for_order(*, order_id: str, reason: str, caused_by: Envelope | None) -> Payment | None:
    """Reconciliation's repair of an order that did not complete but was charged: refund its
    payment. No-op unless the payment is captured."""
    payments_apply([Note(order_id, refund=f"refunded by reconciliation: {reason}", caused_by=caused_by)])
    return Payment.objects.filter(order_id=order_id).first()
