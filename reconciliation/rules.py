"""The rules: each looks at one order (or one product) as the services and the projection see
it, and says what diverges, how badly, and what would fix it.

A rule is a plain function of plain data, so each is tested on its own. The data are the
services' answers from their internal APIs, as the contract's records
(events/contracts/state.py), read by the sweep:

    OrderView(order_id, order, reservation, payment, saga, steps)

An order still moving through its saga is not divergent: rules that compare sides skip an
order whose records changed less than `settle` before the horizon (the time up to which every
change's events can have reached every side; now, when nothing lags), so that lag is never
taken for divergence. The stuck-order rule has its own SLA, counted from the horizon too.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from events.contracts.state import OrderRecord, PaymentRecord, ProductRecord, ReservationRecord
from events.topics import SAGA_SERVICES
from reconciliation.models import Fix, Kind, Severity

ENDED = ("failed", "cancelled")


@dataclass(frozen=True)
class OrderView:
    order_id: str
    order: OrderRecord | None
    reservation: ReservationRecord | None
    payment: PaymentRecord | None
    # The projection's row (as a dict) and its steps: [(producer, sequence)].
    saga: dict | None = None
    steps: list[tuple[str, int]] = field(default_factory=list)

    def last_change(self) -> datetime | None:
        times = [r.updated_at for r in (self.order, self.reservation, self.payment) if r]
        if self.saga and self.saga.get("last_event_at"):
            times.append(self.saga["last_event_at"])
        return max(times) if times else None

    def evidence(self) -> dict:
        sides = {"orders": self.order, "inventory": self.reservation, "payments": self.payment}
        return {
            **{side: record.model_dump() if record else None for side, record in sides.items()},
            "projection": self.saga,
        }


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    subject: str
    detail: str
    fix: str
    order_id: str = ""
    entities: list[dict] = field(default_factory=list)
    # The producer whose events have a gap (event_gap only).
    producer: str = ""


@dataclass(frozen=True)
class Context:
    now: datetime
    settle: timedelta
    pending_sla: timedelta
    # The time up to which every change's events can have reached every side (services/horizon.py):
    # the rules judge changes against it, not against the wall clock. None: now.
    horizon: datetime | None = None

    @property
    def audited_until(self) -> datetime:
        """Changes at or before this are settled enough to judge."""
        return (self.horizon or self.now) - self.settle


def _order_subject(view: OrderView) -> str:
    return f"order {view.order_id}"


def _entities(view: OrderView, *sides: str) -> list[dict]:
    ids = {
        "orders": ("order", view.order and view.order.order_id),
        "inventory": ("reservation", view.reservation and view.reservation.order_id),
        "payments": ("payment", view.payment and view.payment.payment_id),
    }
    return [{"service": s, "type": ids[s][0], "id": ids[s][1]} for s in sides if ids[s][1]]


def settled(view: OrderView, ctx: Context) -> bool:
    last = view.last_change()
    return last is None or last <= ctx.audited_until


def completed_unpaid(view: OrderView, ctx: Context) -> list[Finding]:
    """An order completed with no captured payment, or one whose amount differs from its total."""
    order, payment = view.order, view.payment
    if not order or order.status != "completed" or not settled(view, ctx):
        return []
    if not payment or payment.status != "captured":
        state = payment.status if payment else "no payment"
        return [
            Finding(
                Kind.COMPLETED_UNPAID,
                Severity.CRITICAL,
                _order_subject(view),
                f"order is completed but its payment is {state}",
                Fix.MANUAL,
                view.order_id,
                _entities(view, "orders", "payments"),
            )
        ]
    if payment.amount != order.total_amount:
        return [
            Finding(
                Kind.AMOUNT_MISMATCH,
                Severity.CRITICAL,
                _order_subject(view),
                f"payment captured {payment.amount} for an order of {order.total_amount}",
                Fix.MANUAL,
                view.order_id,
                _entities(view, "orders", "payments"),
            )
        ]
    return []


def charged_not_completed(view: OrderView, ctx: Context) -> list[Finding]:
    """A payment captured for an order that failed or was cancelled: refund it."""
    order, payment = view.order, view.payment
    if not payment or payment.status != "captured" or not order or order.status not in ENDED:
        return []
    if not settled(view, ctx):
        return []
    return [
        Finding(
            Kind.CHARGED_NOT_COMPLETED,
            Severity.CRITICAL,
            _order_subject(view),
            f"payment of {payment.amount} is captured but the order is {order.status}",
            Fix.REFUND_PAYMENT,
            view.order_id,
            _entities(view, "orders", "payments"),
        )
    ]


def held_for_ended_order(view: OrderView, ctx: Context) -> list[Finding]:
    """Stock still held for an order that failed or was cancelled: release it."""
    order, reservation = view.order, view.reservation
    if not reservation or reservation.status != "held" or not order or order.status not in ENDED:
        return []
    if not settled(view, ctx):
        return []
    return [
        Finding(
            Kind.HELD_FOR_ENDED_ORDER,
            Severity.WARNING,
            _order_subject(view),
            f"reservation is held but the order is {order.status}",
            Fix.RELEASE_RESERVATION,
            view.order_id,
            _entities(view, "orders", "inventory"),
        )
    ]


def reservation_vs_order(view: OrderView, ctx: Context) -> list[Finding]:
    """A committed reservation must belong to a completed order, and a completed order must
    have a committed reservation."""
    order, reservation = view.order, view.reservation
    if not order or not settled(view, ctx):
        return []
    status = reservation.status if reservation else None
    if status == "committed" and order.status != "completed":
        fix = Fix.RELEASE_RESERVATION if order.status in ENDED else Fix.REDRIVE
        return [
            Finding(
                Kind.COMMITTED_NOT_COMPLETED,
                Severity.WARNING,
                _order_subject(view),
                f"reservation is committed (stock shipped) but the order is {order.status}",
                fix,
                view.order_id,
                _entities(view, "orders", "inventory"),
            )
        ]
    if order.status == "completed" and status != "committed":
        fix = Fix.COMMIT_RESERVATION if status == "held" else Fix.MANUAL
        return [
            Finding(
                Kind.COMPLETED_NOT_COMMITTED,
                Severity.WARNING,
                _order_subject(view),
                f"order is completed but its reservation is {status or 'missing'}",
                fix,
                view.order_id,
                _entities(view, "orders", "inventory"),
            )
        ]
    return []


def stuck_order(view: OrderView, ctx: Context) -> list[Finding]:
    """An order pending longer than its SLA: its saga has stalled."""
    order = view.order
    # Pending past its SLA counted from the horizon: an order behind a backlog is late, not stuck.
    if (
        not order
        or order.status != "pending"
        or (ctx.horizon or ctx.now) - order.created_at < ctx.pending_sla
    ):
        return []
    age = int((ctx.now - order.created_at).total_seconds())
    return [
        Finding(
            Kind.STUCK_ORDER,
            Severity.WARNING,
            _order_subject(view),
            f"order has been pending for {age} s (SLA {int(ctx.pending_sla.total_seconds())} s); "
            f"reservation {view.reservation.status if view.reservation else 'missing'}, "
            f"payment {view.payment.status if view.payment else 'missing'}",
            Fix.FAIL_ORDER,
            view.order_id,
            _entities(view, *SAGA_SERVICES),
        )
    ]


def event_gap(view: OrderView, ctx: Context) -> list[Finding]:
    """A service's events of the order, as the projection received them, skip a sequence number:
    an event was lost on the way. Fix: that service sends them again."""
    if not view.saga or not settled(view, ctx):
        return []  # the services or the projection moved lately: the event may be on its way
    # Once the projection has heard of the order, every service that published must show up in
    # it: a producer whose only event was lost has no step at all.
    by_producer: dict[str, set[int]] = (
        {p: set() for p in SAGA_SERVICES if _published_version(view, p)} if view.steps else {}
    )
    for producer, sequence in view.steps:
        by_producer.setdefault(producer, set()).add(sequence)
    findings = []
    for producer, seen in sorted(by_producer.items()):
        # The newest event may be the one lost: the service's own version says how far it went.
        newest = max(seen | {_published_version(view, producer)})
        missing = sorted(set(range(1, newest + 1)) - seen)
        if missing:
            findings.append(
                Finding(
                    Kind.EVENT_GAP,
                    Severity.WARNING,
                    f"order {view.order_id} events from {producer}",
                    f"the projection has events {sorted(seen)} of this order from {producer}; "
                    f"missing {missing}",
                    Fix.REDRIVE,
                    view.order_id,
                    [{"service": producer, "type": "events", "id": view.order_id}],
                    producer,
                )
            )
    return findings


def _published_version(view: OrderView, producer: str) -> int:
    """The version of the order's aggregate in `producer` that its last event carried."""
    record = {"orders": view.order, "inventory": view.reservation, "payments": view.payment}.get(producer)
    if not record or (producer == "payments" and record.status in ("pending", "charging", "voided")):
        return 0  # a payment not yet charged published nothing (nor does voiding one)
    return record.version


def stock(product: ProductRecord, ctx: Context) -> list[Finding]:
    """A product's stock: never below zero, never more reserved than on hand, and its reserved
    counter equal to what its held reservations hold."""
    sku, on_hand, reserved, held = (
        product.sku,
        product.stock_quantity,
        product.reserved_quantity,
        product.held_quantity,
    )
    subject = f"product {sku}"
    entities = [{"service": "inventory", "type": "product", "id": sku}]
    findings = []
    if on_hand < 0:
        findings.append(
            Finding(
                Kind.NEGATIVE_STOCK,
                Severity.CRITICAL,
                subject,
                f"{on_hand} on hand",
                Fix.MANUAL,
                "",
                entities,
            )
        )
    if reserved > on_hand:
        findings.append(
            Finding(
                Kind.RESERVED_ABOVE_STOCK,
                Severity.CRITICAL,
                subject,
                f"{reserved} reserved but {on_hand} on hand",
                Fix.MANUAL,
                "",
                entities,
            )
        )
    if reserved != held:
        findings.append(
            Finding(
                Kind.RESERVED_COUNT_MISMATCH,
                Severity.WARNING,
                subject,
                f"reserved counter says {reserved}, held reservations hold {held}",
                Fix.RECOUNT_RESERVED,
                "",
                entities,
            )
        )
    return findings


ORDER_RULES = {
    Kind.COMPLETED_UNPAID: completed_unpaid,
    Kind.CHARGED_NOT_COMPLETED: charged_not_completed,
    Kind.HELD_FOR_ENDED_ORDER: held_for_ended_order,
    Kind.COMMITTED_NOT_COMPLETED: reservation_vs_order,
    Kind.STUCK_ORDER: stuck_order,
    Kind.EVENT_GAP: event_gap,
}
# Kinds a rule of ORDER_RULES reports besides its own.
ALSO_REPORTS = {
    Kind.AMOUNT_MISMATCH: Kind.COMPLETED_UNPAID,
    Kind.COMPLETED_NOT_COMMITTED: Kind.COMMITTED_NOT_COMPLETED,
}
PRODUCT_KINDS = (Kind.NEGATIVE_STOCK, Kind.RESERVED_ABOVE_STOCK, Kind.RESERVED_COUNT_MISMATCH)
