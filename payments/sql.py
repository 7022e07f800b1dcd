"""The payments service's hand-written SQL, for its consumer's hot path: named statements with
parameters, called only from payments/services.py and payments/gateway.py. Each has its test
against the real PostgreSQL (payments/tests/test_batches.py)."""

from events.prepared import Statement

# A pending payment for each order that has none yet, in order_id order (the order of its locks).
PAYMENTS_ENSURE = Statement(
    "payments_payments_ensure",
    """
    INSERT INTO payments_payment
        (payment_id, order_id, status, currency, card_token, stock_held, gateway_reference, failure_reason,
         version, created_at, updated_at)
    SELECT p.payment_id, p.order_id, 'pending', '', '', false, '', '', 0, now(), now()
    FROM unnest(%s::uuid[], %s::text[]) AS p(payment_id, order_id)
    ORDER BY p.order_id
    ON CONFLICT (order_id) DO NOTHING
""",
)

PAYMENTS_LOCK = Statement(
    "payments_payments_lock",
    """
    SELECT order_id, payment_id::text, status, amount, currency, card_token, stock_held, gateway_reference,
           failure_reason, version, processed_at, refunded_at
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
        stock_held = c.stock_held, gateway_reference = c.gateway_reference, failure_reason = c.failure_reason,
        version = c.version, processed_at = c.processed_at, refunded_at = c.refunded_at, updated_at = now()
    FROM unnest(%s::text[], %s::text[], %s::numeric[], %s::text[], %s::text[], %s::bool[], %s::text[],
                %s::text[], %s::bigint[], %s::timestamptz[], %s::timestamptz[])
        AS c(order_id, status, amount, currency, card_token, stock_held, gateway_reference, failure_reason,
             version, processed_at, refunded_at)
    WHERE p.order_id = c.order_id
""",
)

# The simulated gateway's ledger: the first charge under an idempotency key is the charge.
GATEWAY_CHARGE = Statement(
    "payments_gateway_charge",
    """
    INSERT INTO payments_gatewaycharge
        (idempotency_key, reference, amount, approved, decline_code, refunded, created_at)
    VALUES (%s::text, %s::text, %s::numeric, %s::boolean, %s::text, false, now())
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING approved, reference, decline_code
""",
)
GATEWAY_CHARGE_FIRST = Statement(
    "payments_gateway_charge_first",
    "SELECT approved, reference, decline_code FROM payments_gatewaycharge WHERE idempotency_key = %s::text",
)
