"""The inventory service's hand-written SQL, for the reservations' hot path: named statements
with parameters, called only from inventory/services. Rows are always locked reservations
first, then products, each sorted by key, so that concurrent batches never deadlock. Each
statement has its test against the real PostgreSQL (inventory/tests/test_reservations.py)."""

from events.prepared import Statement

RESERVATIONS_EXISTING = Statement(
    "inventory_reservations_existing",
    "SELECT order_id FROM inventory_reservation WHERE order_id = ANY(%s::text[])",
)

RESERVATIONS_LOCK = Statement(
    "inventory_reservations_lock",
    """
    SELECT order_id, status, lines, version FROM inventory_reservation
    WHERE order_id = ANY(%s::text[])
    ORDER BY order_id
    FOR UPDATE
""",
)

PRODUCTS_LOCK = Statement(
    "inventory_products_lock",
    """
    SELECT sku, stock_quantity, reserved_quantity FROM inventory_product
    WHERE sku = ANY(%s::text[])
    ORDER BY sku
    FOR UPDATE
""",
)

# Net changes per product (locked already): units on hand and units held.
PRODUCTS_CHANGE = Statement(
    "inventory_products_change",
    """
    UPDATE inventory_product AS p
    SET stock_quantity = p.stock_quantity + c.stock_change,
        reserved_quantity = p.reserved_quantity + c.reserved_change,
        updated_at = now()
    FROM unnest(%s::text[], %s::int[], %s::int[]) AS c(sku, stock_change, reserved_change)
    WHERE p.sku = c.sku
""",
)

RESERVATIONS_CREATE = Statement(
    "inventory_reservations_create",
    """
    INSERT INTO inventory_reservation
        (order_id, status, lines, version, release_reason, created_at, updated_at)
    SELECT r.order_id, r.status, r.lines, 1, r.release_reason, now(), now()
    FROM unnest(%s::text[], %s::text[], %s::jsonb[], %s::text[]) AS r(order_id, status, lines, release_reason)
    ORDER BY r.order_id
""",
)

# A new status for each reservation (locked already); its version moves on by one.
RESERVATIONS_SET_STATUS = Statement(
    "inventory_reservations_set_status",
    """
    UPDATE inventory_reservation AS r
    SET status = c.status, release_reason = c.release_reason, version = r.version + 1, updated_at = now()
    FROM unnest(%s::text[], %s::text[], %s::text[]) AS c(order_id, status, release_reason)
    WHERE r.order_id = c.order_id
""",
)

MOVEMENTS_RECORD = Statement(
    "inventory_movements_record",
    """
    INSERT INTO inventory_stockmovement
        (product_id, kind, stock_change, reserved_change, stock_after, reserved_after, order_id, reason,
         actor, created_at)
    SELECT m.sku, m.kind, m.stock_change, m.reserved_change, m.stock_after, m.reserved_after, m.order_id,
           m.reason, m.actor, now()
    FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::int[], %s::int[], %s::text[], %s::text[],
                %s::text[]) WITH ORDINALITY
        AS m(sku, kind, stock_change, reserved_change, stock_after, reserved_after, order_id, reason, actor,
             n)
    ORDER BY m.n
""",
)
