"""The payments service's hand-written SQL, for its consumer's hot path: named statements with
parameters, called only from payments/services.py. Each has its test
against the real PostgreSQL (payments/tests/test_batches.py)."""

from events.prepared import Statement

# A pending payment for each order that has none yet, in order_id order (the order of its locks).
PAYMENTS_ENSURE = Statement(
    "payments_payments_ensure",
    """
    INSERT INTO payments_payment
        (payment_id, order_id, status, currency, card_token, stock_held, gateway_reference, refund_reference,
         order_ended, failure_reason, version, created_at, updated_at)
    SELECT p.payment_id, p.order_id, 'pending', '', '', false, '', '', false, '', 0, now(), now()
    FROM unnest(%s::uuid[], %s::text[]) AS p(payment_id, order_id)
    ORDER BY p.order_id
    ON CONFLICT (order_id) DO NOTHING
""",
)

PAYMENTS_LOCK = Statement(
    "payments_payments_lock",
    """
    SELECT order_id, payment_id::text, status, amount, currency, card_token, stock_held, gateway_reference,
           refund_reference, order_ended, failure_reason, version, processed_at, refunded_at, attempted_at
    FROM payments_payment
    WHERE order_id = ANY(%s::text[])
    ORDER BY order_id
    FOR UPDATE
""",
)

# Every column a batch may change, for each payment it changed (locked already).
PAYMENTS_WRITE = Statement(
    "payments_payments_write",
    """
    UPDATE payments_payment AS p
    SET status = c.status, amount = c.amount, currency = c.currency, card_token = c.card_token,
        stock_held = c.stock_held, gateway_reference = c.gateway_reference,
        refund_reference = c.refund_reference, order_ended = c.order_ended, failure_reason = c.failure_reason,
        version = c.version,
        processed_at = c.processed_at, refunded_at = c.refunded_at, attempted_at = c.attempted_at,
        updated_at = now()
    FROM unnest(%s::text[], %s::text[], %s::numeric[], %s::text[], %s::text[], %s::bool[], %s::text[],
                %s::text[], %s::bool[], %s::text[], %s::bigint[], %s::timestamptz[], %s::timestamptz[],
                %s::timestamptz[])
        AS c(order_id, status, amount, currency, card_token, stock_held, gateway_reference, refund_reference,
             order_ended, failure_reason, version, processed_at, refunded_at, attempted_at)
    WHERE p.order_id = c.order_id
""",
)
