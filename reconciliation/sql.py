"""Reconciliation's hand-written SQL, for the projection's hot path: named statements with
parameters, called only from reconciliation/services. Each has its test against the real
PostgreSQL (reconciliation/tests/test_projection.py)."""

from events.prepared import Statement

# The batch's events as saga steps, each once (its event id is unique); the ids of those that
# were new come back. Steps may come before their saga in the transaction: the foreign key is
# checked at commit (Django makes it DEFERRABLE INITIALLY DEFERRED).
STEPS_RECORD = Statement(
    "reconciliation_steps_record",
    """
    INSERT INTO reconciliation_sagastep
        (event_id, saga_id, event_type, producer, sequence, occurred_at, received_at)
    SELECT s.event_id, s.saga_id, s.event_type, s.producer, s.sequence, s.occurred_at, now()
    FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[])
        AS s(event_id, saga_id, event_type, producer, sequence, occurred_at)
    ORDER BY s.event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id::text
""",
)

# One row per order: what the batch's new events say of each side (version 0: nothing), merged
# into the saga without reading it first. Each side takes the batch's status when its version is
# at least the saga's (last write wins by the aggregate's version); the order's facts and its
# creation time come from OrderCreated whenever that arrives; ended_at is set once. Rows are
# written in order_id order, so two workers lock overlapping sagas in the same order.
SAGAS_MERGE = Statement(
    "reconciliation_sagas_merge",
    """
    INSERT INTO reconciliation_ordersaga AS s
        (order_id, customer, order_status, order_version, failure_reason, total_amount, currency,
         reservation_status, reservation_version, payment_status, payment_version, payment_amount,
         created_at, ended_at, last_event_at, updated_at)
    SELECT x.order_id, x.customer, x.order_status, x.order_version, x.failure_reason, x.total_amount,
           x.currency, x.reservation_status, x.reservation_version, x.payment_status, x.payment_version,
           x.payment_amount, x.created_at, x.ended_at, x.last_event_at, now()
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::numeric[], %s::text[],
                %s::text[], %s::bigint[], %s::text[], %s::bigint[], %s::numeric[],
                %s::timestamptz[], %s::timestamptz[], %s::timestamptz[])
        AS x(order_id, customer, order_status, order_version, failure_reason, total_amount, currency,
             reservation_status, reservation_version, payment_status, payment_version, payment_amount,
             created_at, ended_at, last_event_at)
    ORDER BY x.order_id
    ON CONFLICT (order_id) DO UPDATE SET
        customer = CASE WHEN s.created_at IS NULL AND EXCLUDED.created_at IS NOT NULL
                        THEN EXCLUDED.customer ELSE s.customer END,
        total_amount = CASE WHEN s.created_at IS NULL AND EXCLUDED.created_at IS NOT NULL
                            THEN EXCLUDED.total_amount ELSE s.total_amount END,
        currency = CASE WHEN s.created_at IS NULL AND EXCLUDED.created_at IS NOT NULL
                        THEN EXCLUDED.currency ELSE s.currency END,
        created_at = coalesce(s.created_at, EXCLUDED.created_at),
        order_status = CASE WHEN EXCLUDED.order_version > 0 AND EXCLUDED.order_version >= s.order_version
                            THEN EXCLUDED.order_status ELSE s.order_status END,
        failure_reason = CASE WHEN EXCLUDED.order_version > 0 AND EXCLUDED.order_version >= s.order_version
                                   AND EXCLUDED.order_status = 'failed'
                              THEN EXCLUDED.failure_reason ELSE s.failure_reason END,
        ended_at = CASE WHEN s.ended_at IS NULL AND EXCLUDED.order_version > 0
                             AND EXCLUDED.order_version >= s.order_version
                        THEN EXCLUDED.ended_at ELSE s.ended_at END,
        order_version = greatest(s.order_version, EXCLUDED.order_version),
        reservation_status = CASE WHEN EXCLUDED.reservation_version > 0
                                       AND EXCLUDED.reservation_version >= s.reservation_version
                                  THEN EXCLUDED.reservation_status ELSE s.reservation_status END,
        reservation_version = greatest(s.reservation_version, EXCLUDED.reservation_version),
        payment_status = CASE WHEN EXCLUDED.payment_version > 0
                                   AND EXCLUDED.payment_version >= s.payment_version
                              THEN EXCLUDED.payment_status ELSE s.payment_status END,
        payment_amount = CASE WHEN EXCLUDED.payment_amount IS NOT NULL AND EXCLUDED.payment_version > 0
                                   AND EXCLUDED.payment_version >= s.payment_version
                              THEN EXCLUDED.payment_amount ELSE s.payment_amount END,
        payment_version = greatest(s.payment_version, EXCLUDED.payment_version),
        last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at),
        updated_at = now()
    RETURNING s.order_id, s.order_status, s.created_at, s.ended_at
""",
)
