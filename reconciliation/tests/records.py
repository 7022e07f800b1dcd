"""The services' records of an order, as their internal APIs answer the sweep (config/internal_api.py)
once reconciliation.clients has read them into the contract's models (events/contracts/state.py).

Each builder gives the version the owning service would have reached for that status, so a record
agrees with the events the service published unless a test says otherwise.
"""

from datetime import datetime

from events.contracts.state import OrderRecord, PaymentRecord, ProductRecord, ReservationRecord

# The aggregate's version after reaching each status (orders/state.py, inventory/services.py,
# payments/services.py): a voided payment moved without publishing anything.
ORDER_VERSION = {"pending": 1, "completed": 2, "failed": 2, "cancelled": 2}
RESERVATION_VERSION = {"held": 1, "rejected": 1, "committed": 2, "released": 2}
PAYMENT_VERSION = {"pending": 0, "voided": 1, "captured": 1, "declined": 1, "refunded": 2}


def order_record(
    order_id: str,
    status: str = "completed",
    *,
    at: datetime,
    created_at: datetime | None = None,
    total: str = "12.00",
    version: int | None = None,
    failure_reason: str = "",
) -> OrderRecord:
    return OrderRecord.model_validate(
        {
            "order_id": order_id,
            "customer": "42",  # the customer's id, as in OrderCreated
            "status": status,
            "failure_reason": failure_reason,
            "total_amount": total,
            "currency": "EUR",
            "version": ORDER_VERSION[status] if version is None else version,
            "created_at": created_at or at,
            "updated_at": at,
        }
    )


def reservation_record(
    order_id: str, status: str = "committed", *, at: datetime, version: int | None = None
) -> ReservationRecord:
    """`rejected` is stored by inventory as released with the rejection's reason."""
    stored, reason = ("released", "out_of_stock") if status == "rejected" else (status, "")
    if status == "released":
        reason = "payment_declined"
    return ReservationRecord.model_validate(
        {
            "order_id": order_id,
            "status": stored,
            "release_reason": reason,
            "lines": [{"sku": "MUG", "quantity": 2, "unit_price": "6.00"}],
            "version": RESERVATION_VERSION[status] if version is None else version,
            "created_at": at,
            "updated_at": at,
        }
    )


def payment_record(
    order_id: str,
    status: str = "captured",
    *,
    at: datetime,
    amount: str = "12.00",
    version: int | None = None,
) -> PaymentRecord:
    return PaymentRecord.model_validate(
        {
            "order_id": order_id,
            "payment_id": f"pay-{order_id}",
            "status": status,
            "amount": amount,
            "failure_reason": "card_declined" if status == "declined" else "",
            "version": PAYMENT_VERSION[status] if version is None else version,
            "processed_at": None if status in ("pending", "voided") else at,
            "created_at": at,
            "updated_at": at,
        }
    )


def product_record(
    sku: str = "MUG", *, stock: int = 10, reserved: int = 0, held: int | None = None
) -> ProductRecord:
    return ProductRecord.model_validate(
        {
            "sku": sku,
            "stock_quantity": stock,
            "reserved_quantity": reserved,
            "held_quantity": reserved if held is None else held,
            "version": 1,
        }
    )
