"""Every change to payments: learning of an order and of its held stock, charging once both are
known, and voiding or refunding when the order ends otherwise (compensation)."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from events.envelope import Envelope
from events.publishing import publish
from payments.gateway import gateway
from payments.models import Payment


def payment_note_order(
    *, order_id: str, amount, currency: str, card_token: str, caused_by: Envelope
) -> Payment:
    """OrderCreated: remember what to charge; charge now if the stock is already held."""
    with transaction.atomic():
        payment = _locked(order_id)
        if payment.amount is None:
            payment.amount, payment.currency, payment.card_token = amount, currency, card_token
            payment.save(update_fields=["amount", "currency", "card_token", "updated_at"])
        _charge_when_ready(payment, caused_by)
    return payment


def payment_note_stock_held(*, order_id: str, caused_by: Envelope) -> Payment:
    """InventoryReserved: the stock is held; charge now if the order's details are known."""
    with transaction.atomic():
        payment = _locked(order_id)
        if not payment.stock_held:
            payment.stock_held = True
            payment.save(update_fields=["stock_held", "updated_at"])
        _charge_when_ready(payment, caused_by)
    return payment


def payment_settle_ended_order(*, order_id: str, reason: str, caused_by: Envelope | None) -> Payment:
    """The order was cancelled or failed: never charge it; refund it if it was charged."""
    with transaction.atomic():
        payment = _locked(order_id)
        if payment.status == Payment.Status.PENDING:
            payment.status = Payment.Status.VOIDED
            payment.failure_reason = reason
            payment.version += 1
            payment.save()
        elif payment.status == Payment.Status.CAPTURED:
            _refund(payment, caused_by)
    return payment


def payment_refund(*, payment_id, by: str) -> Payment:
    """Support's refund of a captured payment (admin)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(payment_id=payment_id)
        if payment.status != Payment.Status.CAPTURED:
            raise ValueError(
                f"payment {payment.payment_id} is {payment.status}; only captured payments can be refunded"
            )
        payment.failure_reason = f"refunded by {by}"
        _refund(payment, None)
    return payment


def payment_refund_for_order(*, order_id: str, reason: str, caused_by: Envelope | None) -> Payment | None:
    """Reconciliation's repair of an order that did not complete but was charged: refund its
    payment. No-op unless the payment is captured."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(order_id=order_id).first()
        if payment is None or payment.status != Payment.Status.CAPTURED:
            return payment
        payment.failure_reason = f"refunded by reconciliation: {reason}"[:100]
        _refund(payment, caused_by)
    return payment


def _locked(order_id: str) -> Payment:
    payment = Payment.objects.select_for_update().filter(order_id=order_id).first()
    if payment is None:
        try:
            with transaction.atomic():
                Payment.objects.create(order_id=order_id)
        except IntegrityError:
            pass  # created concurrently by the other event of the pair
        payment = Payment.objects.select_for_update().get(order_id=order_id)
    return payment


def _charge_when_ready(payment: Payment, caused_by: Envelope) -> None:
    if payment.status != Payment.Status.PENDING or payment.amount is None or not payment.stock_held:
        return
    result = gateway().charge(
        idempotency_key=str(payment.payment_id), amount=payment.amount, card_token=payment.card_token
    )
    payment.status = Payment.Status.CAPTURED if result.approved else Payment.Status.DECLINED
    payment.gateway_reference = result.reference
    payment.failure_reason = result.decline_code
    payment.processed_at = timezone.now()
    payment.version += 1
    payment.save()
    publish(
        "PaymentProcessed",
        aggregate_type="order",
        aggregate_id=payment.order_id,
        sequence=payment.version,
        payload={
            "order_id": payment.order_id,
            "payment_id": str(payment.payment_id),
            "status": "succeeded" if result.approved else "failed",
            "amount": payment.amount,
            "reason": result.decline_code,
        },
        caused_by=caused_by,
    )


def _refund(payment: Payment, caused_by: Envelope | None) -> None:
    gateway().refund(reference=payment.gateway_reference)
    payment.status = Payment.Status.REFUNDED
    payment.refunded_at = timezone.now()
    payment.version += 1
    payment.save()
    publish(
        "PaymentRefunded",
        aggregate_type="order",
        aggregate_id=payment.order_id,
        sequence=payment.version,
        payload={
            "order_id": payment.order_id,
            "payment_id": str(payment.payment_id),
            "amount": payment.amount,
        },
        caused_by=caused_by,
    )
