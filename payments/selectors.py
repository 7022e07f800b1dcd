from payments.models import Payment


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


def payment_state_as_dict(row: dict) -> dict:
    return {
        **row,
        "payment_id": str(row["payment_id"]),
        "amount": None if row["amount"] is None else str(row["amount"]),
    }
