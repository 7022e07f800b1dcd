-- pgbench script: the SQL one successful order costs across the saga, statement for statement as
-- the services send it (orders/sql.py, inventory/sql.py, payments/sql.py, reconciliation/sql.py,
-- events/processing.py's inbox, events/publishing.py's outbox, events/relay.py's claim), in the
-- same transactions, on copies of the services' own tables (bench/reference.py copies each
-- service's schema, indexes and triggers included, into a schema of a scratch database).
-- One run of this script = one order, every batch holding that one order's event: pgbench's "tps"
-- is the orders per second PostgreSQL alone sustains with batches of one, nothing else (Python,
-- Kafka, HTTP) in the way. The stack's batches hold several orders' events at load, so it pays
-- fewer commits per order than this does.
\set customer random(1, 1000)
\set product random(1, 20)
\set quantity random(1, 3)

-- orders: placement, one statement (ORDER_PLACE: order, line, history, OrderCreated outbox row)
WITH placed AS (
    INSERT INTO orders.orders_order (order_id, customer_id, status, total_amount, currency, failure_reason,
        version, idempotency_key, request_fingerprint, created_at, updated_at)
    VALUES (gen_random_uuid(), :customer, 'pending', 9.99, 'EUR', '', 1, NULL, md5(random()::text), now(), now())
    RETURNING order_id
), lines AS (
    INSERT INTO orders.orders_orderline (order_id, sku, quantity, unit_price)
    SELECT order_id, 'ref-' || :product::text, :quantity::int, 3.33 FROM placed
), history AS (
    INSERT INTO orders.orders_orderstatuschange (order_id, status, reason, at)
    SELECT order_id, 'pending', '', now() FROM placed
), outbox AS (
    INSERT INTO orders.events_outboxevent (event_id, topic, event_type, event_version, aggregate_type,
        aggregate_id, sequence, correlation_id, body, created_at, attempts, last_error)
    SELECT gen_random_uuid(), 'oms.orders.events', 'OrderCreated', 1, 'order', order_id::text, 1,
        order_id::text, repeat('x', 600), now(), 0, '' FROM placed
    RETURNING id
)
SELECT (SELECT order_id::text FROM placed) AS order_id, (SELECT id FROM outbox) AS created_event \gset
-- orders relay: the first waiting row of each aggregate, then the claim (FIRST_WAITING, CLAIM)
SELECT id FROM (SELECT DISTINCT ON (aggregate_id) id FROM orders.events_outboxevent
    WHERE published_at IS NULL ORDER BY aggregate_id, id) AS firsts ORDER BY id LIMIT 100;
UPDATE orders.events_outboxevent SET published_at = now()
    WHERE id = :created_event AND (published_at IS NULL) IS TRUE RETURNING body;

-- inventory: OrderCreated reserves (inbox, reservations, products, reservation, movement, outbox)
BEGIN;
INSERT INTO inventory.events_inboxevent (consumer, event_id, event_type, aggregate_id, sequence, topic,
    partition, "offset", processed_at)
    VALUES ('inventory', gen_random_uuid(), 'OrderCreated', :order_id, 1, 'oms.orders.events', 0, 0, now())
    ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id;
SELECT order_id FROM inventory.inventory_reservation WHERE order_id = :order_id;
SELECT sku, stock_quantity, reserved_quantity FROM inventory.inventory_product
    WHERE sku = 'ref-' || :product::text ORDER BY sku FOR UPDATE;
UPDATE inventory.inventory_product SET reserved_quantity = reserved_quantity + :quantity::int, updated_at = now()
    WHERE sku = 'ref-' || :product::text;
INSERT INTO inventory.inventory_reservation (order_id, status, lines, version, release_reason, created_at,
    updated_at)
    VALUES (:order_id, 'held', jsonb_build_array(jsonb_build_object('sku', 'ref-' || :product::text,
        'quantity', :quantity::int)), 1, '', now(), now());
INSERT INTO inventory.inventory_stockmovement (product_id, kind, stock_change, reserved_change, stock_after,
    reserved_after, order_id, reason, actor, created_at)
    VALUES ('ref-' || :product::text, 'reserve', 0, :quantity::int, 1000000000, 0, :order_id, '', '', now());
INSERT INTO inventory.events_outboxevent (event_id, topic, event_type, event_version, aggregate_type,
    aggregate_id, sequence, correlation_id, body, created_at, attempts, last_error)
    VALUES (gen_random_uuid(), 'oms.inventory.events', 'InventoryReserved', 1, 'reservation', :order_id,
        1, :order_id, repeat('x', 500), now(), 0, '')
    RETURNING id AS reserved_event \gset
COMMIT;
SELECT id FROM (SELECT DISTINCT ON (aggregate_id) id FROM inventory.events_outboxevent
    WHERE published_at IS NULL ORDER BY aggregate_id, id) AS firsts ORDER BY id LIMIT 100;
UPDATE inventory.events_outboxevent SET published_at = now()
    WHERE id = :reserved_event AND (published_at IS NULL) IS TRUE RETURNING body;

-- payments: OrderCreated brings the terms (inbox, ensure, lock, write)
BEGIN;
INSERT INTO payments.events_inboxevent (consumer, event_id, event_type, aggregate_id, sequence, topic,
    partition, "offset", processed_at)
    VALUES ('payments', gen_random_uuid(), 'OrderCreated', :order_id, 1, 'oms.orders.events', 0, 0, now())
    ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id;
INSERT INTO payments.payments_payment (payment_id, order_id, status, currency, card_token, stock_held,
    gateway_reference, refund_reference, order_ended, failure_reason, version, created_at, updated_at)
    VALUES (gen_random_uuid(), :order_id, 'pending', '', '', false, '', '', false, '', 0, now(), now())
    ON CONFLICT (order_id) DO NOTHING;
SELECT * FROM payments.payments_payment WHERE order_id = :order_id FOR UPDATE;
UPDATE payments.payments_payment SET amount = 9.99, currency = 'EUR', card_token = 'tok_visa',
    updated_at = now() WHERE order_id = :order_id;
COMMIT;
-- payments: InventoryReserved opens the charge's intent (inbox, ensure, lock, write)
BEGIN;
INSERT INTO payments.events_inboxevent (consumer, event_id, event_type, aggregate_id, sequence, topic,
    partition, "offset", processed_at)
    VALUES ('payments', gen_random_uuid(), 'InventoryReserved', :order_id, 1, 'oms.inventory.events', 0, 0,
        now())
    ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id;
INSERT INTO payments.payments_payment (payment_id, order_id, status, currency, card_token, stock_held,
    gateway_reference, refund_reference, order_ended, failure_reason, version, created_at, updated_at)
    VALUES (gen_random_uuid(), :order_id, 'pending', '', '', false, '', '', false, '', 0, now(), now())
    ON CONFLICT (order_id) DO NOTHING;
SELECT * FROM payments.payments_payment WHERE order_id = :order_id FOR UPDATE;
UPDATE payments.payments_payment SET status = 'charging', stock_held = true, updated_at = now()
    WHERE order_id = :order_id;
COMMIT;
-- payments: after the commit, the intents read; the gateway's answer (its ledger is the provider's,
-- not in our PostgreSQL) recorded in a second transaction (lock, write, outbox)
SELECT * FROM payments.payments_payment WHERE order_id = :order_id AND status IN ('charging', 'refunding');
BEGIN;
SELECT * FROM payments.payments_payment WHERE order_id = :order_id FOR UPDATE;
UPDATE payments.payments_payment SET status = 'captured', gateway_reference = 'pi_ref',
    version = 1, processed_at = now(), updated_at = now() WHERE order_id = :order_id;
INSERT INTO payments.events_outboxevent (event_id, topic, event_type, event_version, aggregate_type,
    aggregate_id, sequence, correlation_id, body, created_at, attempts, last_error)
    VALUES (gen_random_uuid(), 'oms.payments.events', 'PaymentProcessed', 1, 'payment', :order_id, 1,
        :order_id, repeat('x', 500), now(), 0, '')
    RETURNING id AS captured_event \gset
COMMIT;
SELECT id FROM (SELECT DISTINCT ON (aggregate_id) id FROM payments.events_outboxevent
    WHERE published_at IS NULL ORDER BY aggregate_id, id) AS firsts ORDER BY id LIMIT 100;
UPDATE payments.events_outboxevent SET published_at = now()
    WHERE id = :captured_event AND (published_at IS NULL) IS TRUE RETURNING body;

-- orders: PaymentProcessed completes (inbox, lock, transition, history, outbox)
BEGIN;
INSERT INTO orders.events_inboxevent (consumer, event_id, event_type, aggregate_id, sequence, topic,
    partition, "offset", processed_at)
    VALUES ('orders', gen_random_uuid(), 'PaymentProcessed', :order_id, 1, 'oms.payments.events', 0, 0, now())
    ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id;
SELECT order_id FROM orders.orders_order WHERE order_id = :order_id FOR UPDATE;
UPDATE orders.orders_order SET status = 'completed', failure_reason = '', version = version + 1,
    updated_at = now() WHERE order_id = :order_id AND status = 'pending' RETURNING version;
INSERT INTO orders.orders_orderstatuschange (order_id, status, reason, at)
    VALUES (:order_id, 'completed', '', now());
INSERT INTO orders.events_outboxevent (event_id, topic, event_type, event_version, aggregate_type,
    aggregate_id, sequence, correlation_id, body, created_at, attempts, last_error)
    VALUES (gen_random_uuid(), 'oms.orders.events', 'OrderCompleted', 1, 'order', :order_id, 2,
        :order_id, repeat('x', 450), now(), 0, '')
    RETURNING id AS completed_event \gset
COMMIT;
SELECT id FROM (SELECT DISTINCT ON (aggregate_id) id FROM orders.events_outboxevent
    WHERE published_at IS NULL ORDER BY aggregate_id, id) AS firsts ORDER BY id LIMIT 100;
UPDATE orders.events_outboxevent SET published_at = now()
    WHERE id = :completed_event AND (published_at IS NULL) IS TRUE RETURNING body;

-- inventory: PaymentProcessed commits the reservation (inbox, reservation, product, movement)
BEGIN;
INSERT INTO inventory.events_inboxevent (consumer, event_id, event_type, aggregate_id, sequence, topic,
    partition, "offset", processed_at)
    VALUES ('inventory', gen_random_uuid(), 'PaymentProcessed', :order_id, 1, 'oms.payments.events', 0, 0,
        now())
    ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id;
SELECT order_id, status, lines, version FROM inventory.inventory_reservation
    WHERE order_id = :order_id ORDER BY order_id FOR UPDATE;
SELECT sku, stock_quantity, reserved_quantity FROM inventory.inventory_product
    WHERE sku = 'ref-' || :product::text ORDER BY sku FOR UPDATE;
UPDATE inventory.inventory_product SET stock_quantity = stock_quantity - :quantity::int,
    reserved_quantity = reserved_quantity - :quantity::int, updated_at = now() WHERE sku = 'ref-' || :product::text;
UPDATE inventory.inventory_reservation SET status = 'committed', version = version + 1, updated_at = now()
    WHERE order_id = :order_id;
INSERT INTO inventory.inventory_stockmovement (product_id, kind, stock_change, reserved_change, stock_after,
    reserved_after, order_id, reason, actor, created_at)
    VALUES ('ref-' || :product::text, 'commit', -1 * :quantity::int, -1 * :quantity::int, 1000000000, 0, :order_id, '', '', now());
COMMIT;

-- reconciliation: the projection of the order's four events (steps, then one upsert per order)
BEGIN;
INSERT INTO reconciliation.reconciliation_sagastep (event_id, saga_id, event_type, producer, sequence,
    occurred_at, received_at)
    VALUES (gen_random_uuid(), :order_id, 'OrderCreated', 'orders', 1, now(), now())
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id;
INSERT INTO reconciliation.reconciliation_ordersaga (order_id, customer, order_status, order_version,
    failure_reason, total_amount, currency, reservation_status, reservation_version, payment_status,
    payment_version, payment_amount, created_at, ended_at, last_event_at, updated_at)
    VALUES (:order_id, 'customer-' || :customer::text, 'pending', 1, '', 9.99, 'EUR', '', 0, '', 0, NULL, now(),
        NULL, now(), now())
    ON CONFLICT (order_id) DO UPDATE SET order_status = EXCLUDED.order_status,
        order_version = greatest(reconciliation_ordersaga.order_version, EXCLUDED.order_version),
        last_event_at = EXCLUDED.last_event_at, updated_at = now();
COMMIT;
BEGIN;
INSERT INTO reconciliation.reconciliation_sagastep (event_id, saga_id, event_type, producer, sequence,
    occurred_at, received_at)
    VALUES (gen_random_uuid(), :order_id, 'InventoryReserved', 'inventory', 1, now(), now())
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id;
INSERT INTO reconciliation.reconciliation_ordersaga AS s (order_id, customer, order_status, order_version,
    failure_reason, total_amount, currency, reservation_status, reservation_version, payment_status,
    payment_version, payment_amount, created_at, ended_at, last_event_at, updated_at)
    VALUES (:order_id, '', '', 0, '', NULL, '', 'held', 1, '', 0, NULL, NULL, NULL, now(), now())
    ON CONFLICT (order_id) DO UPDATE SET reservation_status = EXCLUDED.reservation_status,
        reservation_version = greatest(s.reservation_version, EXCLUDED.reservation_version),
        last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at), updated_at = now();
COMMIT;
BEGIN;
INSERT INTO reconciliation.reconciliation_sagastep (event_id, saga_id, event_type, producer, sequence,
    occurred_at, received_at)
    VALUES (gen_random_uuid(), :order_id, 'PaymentProcessed', 'payments', 1, now(), now())
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id;
INSERT INTO reconciliation.reconciliation_ordersaga AS s (order_id, customer, order_status, order_version,
    failure_reason, total_amount, currency, reservation_status, reservation_version, payment_status,
    payment_version, payment_amount, created_at, ended_at, last_event_at, updated_at)
    VALUES (:order_id, '', '', 0, '', NULL, '', '', 0, 'captured', 1, 9.99, NULL, NULL, now(), now())
    ON CONFLICT (order_id) DO UPDATE SET payment_status = EXCLUDED.payment_status,
        payment_amount = EXCLUDED.payment_amount,
        payment_version = greatest(s.payment_version, EXCLUDED.payment_version),
        last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at), updated_at = now();
COMMIT;
BEGIN;
INSERT INTO reconciliation.reconciliation_sagastep (event_id, saga_id, event_type, producer, sequence,
    occurred_at, received_at)
    VALUES (gen_random_uuid(), :order_id, 'OrderCompleted', 'orders', 2, now(), now())
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id;
INSERT INTO reconciliation.reconciliation_ordersaga AS s (order_id, customer, order_status, order_version,
    failure_reason, total_amount, currency, reservation_status, reservation_version, payment_status,
    payment_version, payment_amount, created_at, ended_at, last_event_at, updated_at)
    VALUES (:order_id, '', 'completed', 2, '', NULL, '', '', 0, '', 0, NULL, NULL, now(), now(), now())
    ON CONFLICT (order_id) DO UPDATE SET order_status = EXCLUDED.order_status,
        order_version = greatest(s.order_version, EXCLUDED.order_version), ended_at = EXCLUDED.ended_at,
        last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at), updated_at = now();
COMMIT;
