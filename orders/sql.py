"""The orders service's hand-written SQL, for its hot paths: named statements with parameters,
called only from orders/services and orders/selectors. Each has its test against the real PostgreSQL."""

from events.prepared import Statement
from events.publishing import outbox_insert_sql

# The catalog's price of each sku asked for (an array) that it knows.
CATALOG_PRICES = Statement(
    "orders_catalog_prices", "SELECT sku, price FROM orders_catalogproduct WHERE sku = ANY(%s::text[])"
)

# A new order, its lines, its first history row and its OrderCreated outbox row: one statement,
# so one round trip and its own transaction. With an idempotency key the customer already used,
# nothing is written and no row comes back. Parameters: order_id, customer_id, total_amount,
# currency, idempotency_key, request_fingerprint, now; the lines' skus, quantities and unit
# prices (arrays); now; then the outbox row's columns (events.publishing.outbox_columns).
ORDER_PLACE = Statement(
    "orders_order_place",
    f"""
    WITH placed AS (
        INSERT INTO orders_order
            (order_id, customer_id, status, total_amount, currency, failure_reason, version,
             idempotency_key, request_fingerprint, created_at, updated_at)
        VALUES (%s::uuid, %s::integer, 'pending', %s::numeric, %s::text, '', 1, %s::text, %s::text,
                %s::timestamptz, %s::timestamptz)
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
        SELECT order_id, 'pending', '', %s::timestamptz FROM placed
    ),
    outbox AS ({outbox_insert_sql(only_if="EXISTS (SELECT FROM placed)")})
    SELECT order_id FROM placed
""",
)

# The orders a batch of saga outcomes names, locked in order_id order.
ORDERS_LOCK = Statement(
    "orders_orders_lock",
    "SELECT order_id FROM orders_order WHERE order_id = ANY(%s::uuid[]) ORDER BY order_id FOR UPDATE",
)

# Each order (locked already) to its new status where the state machine allows the move: the
# allowed (from, to) pairs come as two more arrays (orders/state.py TRANSITIONS). The orders
# that moved come back with their new version.
ORDERS_TRANSITION = Statement(
    "orders_orders_transition",
    """
    UPDATE orders_order AS o
    SET status = t.to_status, failure_reason = t.reason, version = o.version + 1, updated_at = now()
    FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS t(order_id, to_status, reason)
    WHERE o.order_id = t.order_id
      AND (o.status, t.to_status) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
    RETURNING o.order_id::text, o.version
""",
)

ORDERS_HISTORY = Statement(
    "orders_orders_history",
    """
    INSERT INTO orders_orderstatuschange (order_id, status, reason, at)
    SELECT h.order_id, h.status, h.reason, now()
    FROM unnest(%s::uuid[], %s::text[], %s::text[]) WITH ORDINALITY AS h(order_id, status, reason, n)
    ORDER BY h.n
""",
)

# The catalog from ProductUpdated events, in sku order: an older version never overwrites a newer.
CATALOG_APPLY = Statement(
    "orders_catalog_apply",
    """
    INSERT INTO orders_catalogproduct AS c (sku, name, price, version, updated_at)
    SELECT p.sku, p.name, p.price, p.version, now()
    FROM unnest(%s::text[], %s::text[], %s::numeric[], %s::bigint[]) AS p(sku, name, price, version)
    ORDER BY p.sku
    ON CONFLICT (sku) DO UPDATE
    SET name = EXCLUDED.name, price = EXCLUDED.price, version = EXCLUDED.version, updated_at = now()
    WHERE c.version < EXCLUDED.version
""",
)

# The saga as admission control reads it (orders/services/admission.py), within a horizon (the
# first parameter, seconds): how many orders placed within it are pending; how many finished the
# saga (completed or failed) in the window (the second), and the median completion time,
# placement to outcome, of those that took less than the horizon, in seconds; when none did, the
# age of the oldest pending order placed within it (0 when none is). An order that waits longer
# (a charge timed out, retried seconds later) counts neither in the queue nor in its latency.
# The partial index of pending orders by age (orders_pending_by_age) finds the first rows, and
# the BRIN index on updated_at the recent outcomes, in the table's last pages where they are written.
ORDERS_SAGA_NOW = Statement(
    "orders_saga_now",
    """
    WITH queue AS (
        SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest
        FROM orders_order
        WHERE status = 'pending' AND created_at > now() - make_interval(secs => %s::float8)
    ),
    outcomes AS (
        SELECT count(*) AS finished,
               extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY updated_at - created_at)
                   FILTER (WHERE updated_at - created_at < make_interval(secs => %s::float8))) AS completion
        FROM orders_order
        WHERE status IN ('completed', 'failed') AND updated_at > now() - make_interval(secs => %s::float8)
    )
    SELECT queue.pending, outcomes.finished, coalesce(outcomes.completion, queue.oldest)
    FROM queue, outcomes
""",
)
