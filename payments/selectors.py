from events.contracts.state import PaymentRecord
from payments.models import Payment

# At most so many payments in one answer of the staff API.
PAYMENT_LIST_MAX = 500


def payment_list(*, order_id: str | None = None):
    """Payments for the staff API, newest first; one order's if `order_id` is given."""
    payments = Payment.objects.order_by("-created_at")
    if order_id:
        payments = payments.filter(order_id=order_id)
    return payments


def payment_states():
    """Payments as the reconciliation service audits them (internal API): rows, not model
    instances (the sweep reads thousands a minute)."""
    return Payment.objects.values(
        "order_id",
        "payment_id",
        "status",
        "amount",
        "failure_reason",
        "version",
        "processed_at",
        "created_at",
        "updated_at",
    )


def payment_record(row: dict) -> PaymentRecord:
    """A row of payment_states() as the internal API's contract (events/contracts/state.py)."""
    return PaymentRecord(**{**row, "payment_id": str(row["payment_id"])})
