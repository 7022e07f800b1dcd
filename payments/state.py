"""The payment state machine: the only way a payment's status changes.

    pending -> charging -> captured -> refunding -> refunded
       |          |
       v          v
     voided    declined                 (declined, voided and refunded go nowhere)

`charging` and `refunding` are intents, committed before the gateway is called and left only
when its answer is recorded (payments/services.py): a crash, a rollback or a timeout in between
leaves the intent, and the next attempt completes it with the same idempotency key, which is
derived from the order and never minted per attempt. A payment publishes one event per move out
of an intent (PaymentProcessed, PaymentRefunded); its `version` counts them.
"""

import logging

from payments.models import Payment

logger = logging.getLogger(__name__)

Status = Payment.Status

TRANSITIONS: dict[str, set[str]] = {
    Status.PENDING: {Status.CHARGING, Status.VOIDED},
    Status.CHARGING: {Status.CAPTURED, Status.DECLINED},
    Status.CAPTURED: {Status.REFUNDING},
    Status.REFUNDING: {Status.REFUNDED},
    Status.DECLINED: set(),
    Status.VOIDED: set(),
    Status.REFUNDED: set(),
}
INTENTS = (Status.CHARGING, Status.REFUNDING)


class IllegalTransition(Exception):
    def __init__(self, order_id: str, status: str, to: str):
        self.order_id, self.status, self.to = order_id, status, to
        super().__init__(f"the payment of order {order_id} is {status}; it cannot become {to}")


def transition(payment, to: str) -> None:
    """Move `payment` (a locked row, or its in-memory copy that its caller writes) to `to`."""
    if to not in TRANSITIONS[payment.status]:
        logger.warning("refused: payment of order %s %s -> %s", payment.order_id, payment.status, to)
        raise IllegalTransition(payment.order_id, payment.status, to)
    payment.status = to


def charge_key(order_id: str) -> str:
    """The gateway's idempotency key for the order's one charge: every attempt sends the same."""
    return f"oms-order-{order_id}-charge"


def refund_key(order_id: str) -> str:
    """The idempotency key for the order's one refund (a payment is refunded in full, once)."""
    return f"oms-order-{order_id}-refund"
