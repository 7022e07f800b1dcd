"""Commands of the reconciliation service (topic oms.reconciliation.events).

Reconciliation never writes another service's database: it asks the owning service to repair
its own data with one of these, and the next audit confirms the repair. Each is keyed by the
order id (RecountReserved by the sku) and is idempotent in the service that carries it out: a
command whose repair is already done changes nothing.
"""

from typing import Literal

import pydantic

from events.contracts.common import Sku
from events.schemas import register

Service = Literal["orders", "inventory", "payments"]


class Command(pydantic.BaseModel):
    # The divergence the command repairs (empty for an operator's re-drive), and who asked.
    divergence_id: str = ""
    requested_by: str


class ReleaseReservationV1(Command):
    """inventory: give back the units held or committed for an order that did not complete."""

    order_id: str
    reason: str


class CommitReservationV1(Command):
    """inventory: ship the units held for an order that completed."""

    order_id: str


class RecountReservedV1(Command):
    """inventory: set a product's reserved counter to what its held reservations hold."""

    sku: Sku


class RefundPaymentV1(Command):
    """payments: refund the captured payment of an order that did not complete."""

    order_id: str
    reason: str


class FailOrderV1(Command):
    """orders: fail a pending order (a stuck saga); the others compensate on OrderFailed."""

    order_id: str
    reason: Literal["timeout"] = "timeout"


class RepublishEventsV1(Command):
    """Every named service sends its stored events of the aggregate again (a re-drive, or a gap
    filled); consumers' inboxes skip what they already applied."""

    aggregate_id: str
    services: list[Service] = pydantic.Field(min_length=1)


register("ReleaseReservation", 1, ReleaseReservationV1, producer="reconciliation")
register("CommitReservation", 1, CommitReservationV1, producer="reconciliation")
register("RecountReserved", 1, RecountReservedV1, producer="reconciliation")
register("RefundPayment", 1, RefundPaymentV1, producer="reconciliation")
register("FailOrder", 1, FailOrderV1, producer="reconciliation")
register("RepublishEvents", 1, RepublishEventsV1, producer="reconciliation")
