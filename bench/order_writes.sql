-- pgbench script: the PostgreSQL writes one successful order costs across the saga, in the
-- same transactions the services make (bench/reference.py runs it; tables: order_writes_schema.sql).
-- One run of this script = one order; pgbench's "tps" is therefore orders per second that
-- PostgreSQL alone sustains on this machine, with nothing else (Python, Kafka, HTTP) in the way.
\set customer random(1, 1000)
\set sku random(1, 20)
\set quantity random(1, 3)

-- orders: place (order, line, history, outbox)
BEGIN;
INSERT INTO ref_order (order_id, customer_id, status, total, version, created_at, updated_at)
  VALUES (gen_random_uuid(), :customer, 'pending', 9.99, 1, now(), now()) RETURNING order_id \gset
INSERT INTO ref_order_line (order_id, sku, quantity, unit_price) VALUES (:order_id, :sku, :quantity, 3.33);
INSERT INTO ref_status_change (order_id, status, at) VALUES (:order_id, 'pending', now());
INSERT INTO ref_outbox (event_id, aggregate_id, envelope, created_at)
  VALUES (gen_random_uuid(), :order_id, jsonb_build_object('payload', repeat('x', 600)), now()) RETURNING id AS created_event \gset
COMMIT;
-- orders relay: mark it published
UPDATE ref_outbox SET published_at = now() WHERE id = :created_event;

-- inventory: reserve (inbox, product, reservation, movement, outbox)
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('inventory', gen_random_uuid(), now());
UPDATE ref_product SET reserved = reserved + :quantity, version = version + 1 WHERE sku = :sku;
INSERT INTO ref_reservation (order_id, status, version, created_at) VALUES (:order_id, 'held', 1, now());
INSERT INTO ref_movement (sku, order_id, change, created_at) VALUES (:sku, :order_id, :quantity, now());
INSERT INTO ref_outbox (event_id, aggregate_id, envelope, created_at)
  VALUES (gen_random_uuid(), :order_id, jsonb_build_object('payload', repeat('x', 500)), now()) RETURNING id AS reserved_event \gset
COMMIT;
UPDATE ref_outbox SET published_at = now() WHERE id = :reserved_event;

-- payments: the order's details, then the charge (inbox, payment, gateway ledger, outbox)
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('payments', gen_random_uuid(), now());
INSERT INTO ref_payment (order_id, status, amount, version, created_at) VALUES (:order_id, 'pending', 9.99, 1, now());
COMMIT;
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('payments', gen_random_uuid(), now());
UPDATE ref_payment SET status = 'captured', version = version + 1 WHERE order_id = :order_id;
INSERT INTO ref_charge (idempotency_key, amount, created_at) VALUES (gen_random_uuid(), 9.99, now());
INSERT INTO ref_outbox (event_id, aggregate_id, envelope, created_at)
  VALUES (gen_random_uuid(), :order_id, jsonb_build_object('payload', repeat('x', 500)), now()) RETURNING id AS captured_event \gset
COMMIT;
UPDATE ref_outbox SET published_at = now() WHERE id = :captured_event;

-- orders: complete (inbox, order, history, outbox)
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('orders', gen_random_uuid(), now());
UPDATE ref_order SET status = 'completed', version = version + 1, updated_at = now() WHERE order_id = :order_id;
INSERT INTO ref_status_change (order_id, status, at) VALUES (:order_id, 'completed', now());
INSERT INTO ref_outbox (event_id, aggregate_id, envelope, created_at)
  VALUES (gen_random_uuid(), :order_id, jsonb_build_object('payload', repeat('x', 450)), now()) RETURNING id AS completed_event \gset
COMMIT;
UPDATE ref_outbox SET published_at = now() WHERE id = :completed_event;

-- inventory: commit the reservation (inbox, product, reservation, movement)
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('inventory', gen_random_uuid(), now());
UPDATE ref_product SET stock = stock - :quantity, reserved = reserved - :quantity, version = version + 1 WHERE sku = :sku;
UPDATE ref_reservation SET status = 'committed', version = version + 1 WHERE order_id = :order_id;
INSERT INTO ref_movement (sku, order_id, change, created_at) VALUES (:sku, :order_id, -1 * :quantity::int, now());
COMMIT;

-- reconciliation: the projection of the order's four events (inbox, saga, step)
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('reconciliation', gen_random_uuid(), now());
INSERT INTO ref_saga (order_id, status, updated_at) VALUES (:order_id, 'pending', now());
INSERT INTO ref_step (order_id, event_type, at) VALUES (:order_id, 'OrderCreated', now());
COMMIT;
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('reconciliation', gen_random_uuid(), now());
UPDATE ref_saga SET status = 'reserved', updated_at = now() WHERE order_id = :order_id;
INSERT INTO ref_step (order_id, event_type, at) VALUES (:order_id, 'StockReserved', now());
COMMIT;
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('reconciliation', gen_random_uuid(), now());
UPDATE ref_saga SET status = 'captured', updated_at = now() WHERE order_id = :order_id;
INSERT INTO ref_step (order_id, event_type, at) VALUES (:order_id, 'PaymentCaptured', now());
COMMIT;
BEGIN;
INSERT INTO ref_inbox (consumer, event_id, created_at) VALUES ('reconciliation', gen_random_uuid(), now());
UPDATE ref_saga SET status = 'completed', updated_at = now() WHERE order_id = :order_id;
INSERT INTO ref_step (order_id, event_type, at) VALUES (:order_id, 'OrderCompleted', now());
COMMIT;
