from payments.models import Payment


def payment_states():
    """Payments as the reconciliation service audits them (internal API)."""
    return Payment.objects.all()


def payment_state_as_dict(payment: Payment) -> dict:
    return {
        "order_id": payment.order_id,
        "payment_id": str(payment.payment_id),
        "status": payment.status,
        "amount": None if payment.amount is None else str(payment.amount),
        "failure_reason": payment.failure_reason,
        "version": payment.version,
        "processed_at": payment.processed_at,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
    }
