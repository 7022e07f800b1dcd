"""The reservation state machine: which way a reservation's status may move.

    (new)     -> held | released          (released at once when the order is rejected)
    held      -> committed | released     (the order was paid / it failed or was cancelled)
    committed -> released                 (a compensation after shipping: units back to stock)
    released  -> (nothing)

The batch functions of services/reservations.py ask settled_status() for every move and write the
answer with set-based statements (inventory/sql.py); a move the table does not hold is not made
(the event that asked for it is a duplicate or came too late), never written.
"""

from inventory.models import Reservation

Status = Reservation.Status

TRANSITIONS: dict[str, set[str]] = {
    Status.HELD: {Status.COMMITTED, Status.RELEASED},
    Status.COMMITTED: {Status.RELEASED},
    Status.RELEASED: set(),
}


def settled_status(status: str, *, commit: bool) -> str | None:
    """The status a reservation in `status` moves to when its order is paid (`commit`) or ends
    unpaid; None when it does not move."""
    to = Status.COMMITTED if commit else Status.RELEASED
    return to if to in TRANSITIONS[status] else None
