"""The orders service's hand-written SQL, for its hot paths: named statements with parameters,
called only from orders/services. Each has its test against the real PostgreSQL."""

from events.publishing import outbox_insert_sql

# The catalog's price of each sku asked for (an array) that it knows.
CATALOG_PRICES = "SELECT sku, price FROM orders_catalogproduct WHERE sku = ANY(%s::text[])"

# A new order, its lines, its first history row and its OrderCreated outbox row: one statement,
# so one round trip and its own transaction. With an idempotency key the customer already used,
# nothing is written and no row comes back. Parameters: order_id, customer_id, total_amount,
# currency, idempotency_key, request_fingerprint, now; the lines' skus, quantities and unit
# prices (arrays); now; then the outbox row's columns (events.publishing.outbox_columns).
ORDER_PLACE = f"""
    WITH placed AS (
        INSERT INTO orders_order
            (order_id, customer_id, status, total_amount, currency, failure_reason, version,
             idempotency_key, request_fingerprint, created_at, updated_at)
        VALUES (%s, %s, 'pending', %s, %s, '', 1, %s, %s, %s, %s)
        ON CONFLICT (customer_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING order_id
    ),
    lines AS (
        INSERT INTO orders_orderline (order_id, sku, quantity, unit_price)
        SELECT placed.order_id, line.sku, line.quantity, line.unit_price
        FROM placed, unnest(%s::text[], %s::int[], %s::numeric[]) WITH ORDINALITY
            AS line(sku, quantity, unit_price, n)
        ORDER BY line.n
    ),
    history AS (
        INSERT INTO orders_orderstatuschange (order_id, status, reason, at)
        SELECT order_id, 'pending', '', %s FROM placed
    ),
    outbox AS ({outbox_insert_sql(only_if="EXISTS (SELECT FROM placed)")})
    SELECT order_id FROM placed
"""
