from django.db import connection

from inventory.models import Product, Reservation


def product_get(*, sku: str) -> Product | None:
    return Product.objects.filter(sku=sku).first()


def product_list():
    return Product.objects.all()


def reservation_states():
    """Reservations as the reconciliation service audits them (internal API)."""
    return Reservation.objects.all()


def reservation_state_as_dict(reservation: Reservation) -> dict:
    return {
        "order_id": reservation.order_id,
        "status": reservation.status,
        "release_reason": reservation.release_reason,
        "lines": reservation.lines,
        "version": reservation.version,
        "created_at": reservation.created_at,
        "updated_at": reservation.updated_at,
    }


def stock_states() -> list[dict]:
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
        {
            "sku": sku,
            "stock_quantity": stock,
            "reserved_quantity": reserved,
            "held_quantity": held,
            "version": v,
        }
        for sku, stock, reserved, held, v in rows
    ]
