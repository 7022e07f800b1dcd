from django.db import connection

from events.contracts.state import ProductRecord, ReservationRecord
from inventory.models import Product, Reservation


def product_get(*, sku: str) -> Product | None:
    return Product.objects.filter(sku=sku).first()


def product_list():
    return Product.objects.all()


STATE_FIELDS = ("order_id", "status", "release_reason", "lines", "version", "created_at", "updated_at")


def reservation_states():
    """Reservations as the reconciliation service audits them (internal API): rows, not model
    instances (the sweep reads thousands a minute), each as reservation_record() answers it."""
    return Reservation.objects.values(*STATE_FIELDS)


def reservation_record(row: dict) -> ReservationRecord:
    """A row of reservation_states() as the internal API's contract (events/contracts/state.py)."""
    return ReservationRecord(**row)


def stock_states() -> list[ProductRecord]:
    """Every product's stock: on hand, the reserved counter, and the units its held reservations
    actually hold (which the counter must equal)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.sku, p.stock_quantity, p.reserved_quantity, coalesce(h.held, 0), p.version
            FROM inventory_product p
            LEFT JOIN (
                SELECT line->>'sku' AS sku, sum((line->>'quantity')::bigint)::bigint AS held
                FROM inventory_reservation r, jsonb_array_elements(r.lines) AS line
                WHERE r.status = 'held'
                GROUP BY 1
            ) h ON h.sku = p.sku
            ORDER BY p.sku
            """
        )
        rows = cursor.fetchall()
    return [
        ProductRecord(
            sku=sku, stock_quantity=stock, reserved_quantity=reserved, held_quantity=held, version=v
        )
        for sku, stock, reserved, held, v in rows
    ]
