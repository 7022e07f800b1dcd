"""Reservations: holding an order's units, shipping them once it is paid, and giving them back
when it is not (compensation for a declined payment, a cancelled or failed order).

Each function takes a batch (a consumer's poll batch, or the one order an admin action names)
and applies it in the caller's transaction (no savepoint; one of its own when there is none)
with a fixed handful of statements whatever its size (inventory/sql.py): it locks
the reservations, then the products, each sorted by key, works out every unit's move in memory
in the batch's order, and writes the products' net changes, the reservations, one StockMovement
per product and order, and one event per order (through the outbox). Holding is all or nothing
per order, and the database refuses to hold more than it has (a check constraint).
"""

import json
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction

from events.envelope import Envelope
from events.publishing import publish
from inventory import sql, state
from inventory.models import Reservation, StockMovement
from inventory.services.products import InventoryError, Refusal

Status = Reservation.Status
Kind = StockMovement.Kind


@dataclass(frozen=True)
class Hold:
    """An order's lines to hold: [{"sku", "quantity", "unit_price"}] as the order asked for them."""

    order_id: str
    lines: list[dict]
    caused_by: Envelope | None = None


@dataclass(frozen=True)
class Settle:
    """An order's outcome for its reservation: ship its units (commit) or give them back."""

    order_id: str
    commit: bool
    reason: str = ""
    actor: str = "saga"
    caused_by: Envelope | None = None


def reservations_lock(*, order_ids: list[str], skus: set[str]) -> None:
    """Lock the reservations of `order_ids`, then the products their lines and `skus` name, each
    sorted: what a consumer's batch takes before its handlers, so that two workers whose batches
    overlap never lock in opposite orders."""
    with connection.cursor() as cursor:
        sql.RESERVATIONS_LOCK.execute(cursor, [sorted(set(order_ids))])
        for _, _, lines, _ in cursor.fetchall():
            skus |= {line["sku"] for line in _as_list(lines)}
        sql.PRODUCTS_LOCK.execute(cursor, [sorted(skus)])


def reservations_hold(holds: list[Hold]) -> None:
    """Hold every line of each order, or none (InventoryReserved, or InventoryRejected with the
    reason), in the order given. An order already seen is left as it is."""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        sql.RESERVATIONS_EXISTING.execute(cursor, [[hold.order_id for hold in holds]])
        seen = {row[0] for row in cursor.fetchall()}
        new = []
        for hold in holds:
            if hold.order_id not in seen:
                seen.add(hold.order_id)
                new.append(hold)
        holds = new
        if not holds:
            return
        stock = _Stock.locked(cursor, {line["sku"] for hold in holds for line in hold.lines})
        created = []
        for hold in holds:
            wanted = _units(hold.lines)
            unknown = sorted(set(wanted) - set(stock.units))
            short = sorted(
                sku
                for sku, quantity in wanted.items()
                if sku in stock.units and stock.available(sku) < quantity
            )
            if unknown or short:
                reason = "unknown_product" if unknown else "out_of_stock"
                created.append((hold.order_id, Status.RELEASED, hold.lines, reason))
                _publish(
                    "InventoryRejected",
                    hold.order_id,
                    1,
                    {"reason": reason, "skus": unknown or short},
                    hold.caused_by,
                )
                continue
            for sku, quantity in sorted(wanted.items()):
                stock.move(sku, Kind.RESERVE, hold.order_id, reserved=quantity)
            created.append((hold.order_id, Status.HELD, hold.lines, ""))
            _publish("InventoryReserved", hold.order_id, 1, {"lines": hold.lines}, hold.caused_by)
        stock.write(cursor)
        sql.RESERVATIONS_CREATE.execute(
            cursor,
            [
                [order_id for order_id, _, _, _ in created],
                [status for _, status, _, _ in created],
                [json.dumps(lines) for _, _, lines, _ in created],
                [reason for _, _, _, reason in created],
            ],
        )


def reservations_settle(changes: list[Settle]) -> None:
    """Ship (commit) or give back (release) each order's units, in the order given: a commit
    takes held units out of the stock; a release gives held units back to availability and
    committed ones back to the stock. A commit of a reservation not held, or a release of one
    already released (or never made), changes nothing."""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        sql.RESERVATIONS_LOCK.execute(cursor, [sorted({change.order_id for change in changes})])
        reservations = {
            order_id: [status, _as_list(lines), version]
            for order_id, status, lines, version in cursor.fetchall()
        }
        stock = _Stock.locked(
            cursor, {line["sku"] for _, lines, _ in reservations.values() for line in lines}
        )
        settled = []
        for change in changes:
            reservation = reservations.get(change.order_id)
            if reservation is None:
                continue
            status, lines, version = reservation
            new_status = state.settled_status(status, commit=change.commit)
            if new_status is None:
                continue
            for sku, quantity in sorted(_units(lines).items()):
                if sku not in stock.units:
                    continue  # a product since removed: nothing of it to move
                if change.commit:
                    stock.move(sku, Kind.COMMIT, change.order_id, stock=-quantity, reserved=-quantity)
                elif status == Status.COMMITTED:
                    stock.move(
                        sku,
                        Kind.RELEASE,
                        change.order_id,
                        stock=quantity,
                        reason=change.reason,
                        actor=change.actor,
                    )
                else:
                    stock.move(
                        sku,
                        Kind.RELEASE,
                        change.order_id,
                        reserved=-quantity,
                        reason=change.reason,
                        actor=change.actor,
                    )
            reservation[0], reservation[2] = new_status, version + 1
            settled.append((change.order_id, new_status, "" if change.commit else change.reason))
            if change.commit:
                _publish("InventoryCommitted", change.order_id, version + 1, {}, change.caused_by)
            else:
                _publish(
                    "InventoryReleased",
                    change.order_id,
                    version + 1,
                    {"reason": change.reason},
                    change.caused_by,
                )
        if not settled:
            return
        stock.write(cursor)
        sql.RESERVATIONS_SET_STATUS.execute(
            cursor,
            [
                [order_id for order_id, _, _ in settled],
                [s for _, s, _ in settled],
                [r for _, _, r in settled],
            ],
        )


def reservation_release(
    *, order_id: str, reason: str, caused_by: Envelope | None, actor: str = "saga"
) -> Reservation | None:
    """Give the order's units back (held ones to availability, committed ones to the stock).
    No-op when already released or never reserved."""
    reservations_settle([Settle(order_id, commit=False, reason=reason, actor=actor, caused_by=caused_by)])
    return Reservation.objects.filter(order_id=order_id).first()


def reservation_release_by_support(*, order_id: str, actor: str) -> Reservation:
    """Support's release (the admin's action): of a held reservation only, an order still open
    or stuck. A committed one is a completed order's, whose units have shipped: releasing it
    would put them back on sale. InventoryError says why it was refused; the reservation's lock,
    taken first, keeps the saga from committing it in between."""
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().filter(order_id=order_id).first()
        if reservation is None:
            raise InventoryError(Refusal.NO_RESERVATION, f"order {order_id} has no reservation")
        if reservation.status != Status.HELD:
            raise InventoryError(
                Refusal.NOT_HELD,
                f"the reservation of order {order_id} is {reservation.status}: only a held one can be"
                " released (a committed reservation's order completed, and its units shipped)",
            )
        return reservation_release(
            order_id=order_id, reason="released by support", caused_by=None, actor=actor
        )


class _Stock:
    """The locked products' units as the batch moves them, and the movements that say so; written
    at once by write()."""

    def __init__(self, units: dict[str, list[int]]):
        self.units = units  # sku -> [on hand, held]
        self._before = {sku: tuple(value) for sku, value in units.items()}
        self._movements: list[tuple] = []

    @classmethod
    def locked(cls, cursor, skus: set[str]) -> "_Stock":
        sql.PRODUCTS_LOCK.execute(cursor, [sorted(skus)])
        return cls({sku: [on_hand, held] for sku, on_hand, held in cursor.fetchall()})

    def available(self, sku: str) -> int:
        on_hand, held = self.units[sku]
        return on_hand - held

    def move(
        self, sku: str, kind: str, order_id: str, *, stock=0, reserved=0, reason="", actor="saga"
    ) -> None:
        units = self.units[sku]
        units[0] += stock
        units[1] += reserved
        self._movements.append((sku, kind, stock, reserved, units[0], units[1], order_id, reason, actor))

    def write(self, cursor) -> None:
        changed = [
            (sku, on_hand - self._before[sku][0], held - self._before[sku][1])
            for sku, (on_hand, held) in self.units.items()
            if (on_hand, held) != self._before[sku]
        ]
        if changed:
            sql.PRODUCTS_CHANGE.execute(cursor, [list(column) for column in zip(*changed, strict=True)])
        if self._movements:
            sql.MOVEMENTS_RECORD.execute(
                cursor, [list(column) for column in zip(*self._movements, strict=True)]
            )


def _units(lines: list[dict]) -> Counter:
    wanted: Counter = Counter()
    for line in lines:
        wanted[line["sku"]] += line["quantity"]
    return wanted


def _as_list(lines) -> list[dict]:
    return json.loads(lines) if isinstance(lines, str) else lines


def _publish(
    event_type: str, order_id: str, sequence: int, payload: dict, caused_by: Envelope | None
) -> None:
    publish(
        event_type,
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=sequence,
        payload={"order_id": order_id, **payload},
        caused_by=caused_by,
    )
