-- The tables bench/order_writes.sql writes: the services' tables reduced to the columns and
-- indexes that make their writes cost what they do (keys, unique constraints, the outbox's
-- partial index). Created afresh in a scratch database by bench/reference.py.
DROP TABLE IF EXISTS ref_order, ref_order_line, ref_status_change, ref_outbox, ref_inbox, ref_product,
  ref_reservation, ref_movement, ref_payment, ref_charge, ref_saga, ref_step;
CREATE TABLE ref_order (order_id uuid PRIMARY KEY, customer_id int NOT NULL, status varchar(10) NOT NULL,
  total numeric(12, 2) NOT NULL, version bigint NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE INDEX ON ref_order (customer_id, created_at);
CREATE TABLE ref_order_line (id bigserial PRIMARY KEY, order_id uuid NOT NULL REFERENCES ref_order,
  sku int NOT NULL, quantity int NOT NULL, unit_price numeric(12, 2) NOT NULL);
CREATE INDEX ON ref_order_line (order_id);
CREATE TABLE ref_status_change (id bigserial PRIMARY KEY, order_id uuid NOT NULL REFERENCES ref_order,
  status varchar(10) NOT NULL, at timestamptz NOT NULL);
CREATE INDEX ON ref_status_change (order_id);
CREATE TABLE ref_outbox (id bigserial PRIMARY KEY, event_id uuid UNIQUE NOT NULL, aggregate_id varchar(100) NOT NULL,
  envelope jsonb NOT NULL, created_at timestamptz NOT NULL, published_at timestamptz);
CREATE INDEX ON ref_outbox (id) WHERE published_at IS NULL;
CREATE INDEX ON ref_outbox (aggregate_id, id) WHERE published_at IS NULL;
CREATE INDEX ON ref_outbox (created_at);
CREATE TABLE ref_inbox (id bigserial PRIMARY KEY, consumer varchar(100) NOT NULL, event_id uuid NOT NULL,
  created_at timestamptz NOT NULL, UNIQUE (consumer, event_id));
CREATE INDEX ON ref_inbox (created_at);
CREATE TABLE ref_product (sku int PRIMARY KEY, stock int NOT NULL CHECK (stock >= 0), reserved int NOT NULL,
  version bigint NOT NULL);
INSERT INTO ref_product SELECT n, 1000000000, 0, 1 FROM generate_series(1, 20) n;
CREATE TABLE ref_reservation (order_id uuid PRIMARY KEY, status varchar(10) NOT NULL, version bigint NOT NULL,
  created_at timestamptz NOT NULL);
CREATE INDEX ON ref_reservation (status);
CREATE TABLE ref_movement (id bigserial PRIMARY KEY, sku int NOT NULL, order_id uuid NOT NULL, change int NOT NULL,
  created_at timestamptz NOT NULL);
CREATE INDEX ON ref_movement (order_id);
CREATE TABLE ref_payment (order_id uuid PRIMARY KEY, status varchar(10) NOT NULL, amount numeric(12, 2),
  version bigint NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE ref_charge (id bigserial PRIMARY KEY, idempotency_key uuid UNIQUE NOT NULL, amount numeric(12, 2) NOT NULL,
  created_at timestamptz NOT NULL);
CREATE TABLE ref_saga (order_id uuid PRIMARY KEY, status varchar(20) NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE ref_step (id bigserial PRIMARY KEY, order_id uuid NOT NULL, event_type varchar(100) NOT NULL,
  at timestamptz NOT NULL);
CREATE INDEX ON ref_step (order_id);
