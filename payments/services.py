"""Every change to payments: learning of an order and of its held stock, charging once both are
known, and voiding or refunding when the order ends otherwise (compensation).

Money moves in three steps (the pattern of idempotency keys kept in the database), so that no
rollback, crash or timeout can charge twice or lose a charge:

1. payments_apply() takes a batch of what events say of orders (a consumer's poll batch, or the
   one order an admin action names) and applies it in the caller's transaction, with a fixed
   handful of statements whatever its size (payments/sql.py): a payment for every order that has
   none yet, every payment locked in order_id order, each note applied in memory, then one write.
   A payment that is to be charged or refunded becomes an intent (charging, refunding); nothing
   is sent to the gateway yet.
2. Once that transaction commits, payments_settle() calls the gateway for those intents, outside
   any transaction and several at once, each with the key derived from its order
   (payments/state.py).
3. It records each answer in a second transaction (the payment locked again and still the same
   intent), with its event through the outbox. A call without an answer leaves the intent; the
   periodic payments_settle_stalled() sends it again, with the same key.
"""

import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import tenacity
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events.envelope import Envelope
from events.ids import new_id
from events.publishing import outbox_batch, publish
from payments import metrics, sql, state
from payments.gateway import ChargeResult, GatewayRefused, GatewayUnavailable, gateway
from payments.models import Payment

logger = logging.getLogger(__name__)

Status = Payment.Status


@dataclass(frozen=True)
class Terms:
    """What OrderCreated says the order is to be charged."""

    amount: Decimal
    currency: str
    card_token: str


@dataclass(frozen=True)
class Note:
    """One thing learnt of an order: its terms (OrderCreated), that its stock is held
    (InventoryReserved), that it ended otherwise (`ended`: the reason; cancelled or failed), or
    that it is to be refunded (`refund`: why; support or reconciliation)."""

    order_id: str
    terms: Terms | None = None
    stock_held: bool = False
    ended: str = ""
    refund: str = ""
    caused_by: Envelope | None = None


@dataclass
class _Row:
    """A payment as PAYMENTS_LOCK reads it and PAYMENTS_WRITE writes it."""

    order_id: str
    payment_id: str
    status: str
    amount: Decimal | None
    currency: str
    card_token: str
    stock_held: bool
    gateway_reference: str
    refund_reference: str
    order_ended: bool
    failure_reason: str
    version: int
    processed_at: object
    refunded_at: object
    attempted_at: object


def payments_apply(notes: list[Note]) -> None:
    """Apply `notes` in their order (in the caller's transaction, or one of its own); the
    gateway is called for the intents they open once that transaction has committed."""
    if not notes:
        return
    with transaction.atomic(savepoint=False):
        changed = _locked_apply(sorted({note.order_id for note in notes if not note.refund}), notes)
        intents = [p.order_id for p in changed if p.status in state.INTENTS]
        if intents:
            # The event that opened each intent is the cause of the event that records its outcome.
            causes = {note.order_id: note.caused_by for note in notes if note.caused_by is not None}
            causes = {order_id: causes[order_id] for order_id in intents if order_id in causes}
            transaction.on_commit(functools.partial(payments_settle, intents, causes), robust=True)


def _locked_apply(new: list[str], notes: list[Note]) -> list[_Row]:
    """Create the payments of `new` orders, lock those `notes` name, apply them, write what
    changed; the changed payments."""
    with connection.cursor() as cursor:
        # A refund never makes a payment; anything else may be the first news of an order.
        if new:
            sql.PAYMENTS_ENSURE.execute(cursor, [[str(new_id()) for _ in new], new])
        payments = _lock(cursor, sorted({note.order_id for note in notes}))
        changed: dict[str, _Row] = {}
        for note in notes:
            payment = payments.get(note.order_id)
            if payment is not None and _apply(payment, note):
                changed[payment.order_id] = payment
        if changed:
            sql.PAYMENTS_WRITE.execute(cursor, _columns(changed.values()))
    return list(changed.values())


def _lock(cursor, order_ids: list[str]) -> dict[str, _Row]:
    sql.PAYMENTS_LOCK.execute(cursor, [order_ids])
    return {row[0]: _Row(*row) for row in cursor.fetchall()}


def _apply(payment: _Row, note: Note) -> bool:
    """Apply one note to `payment` in memory; whether it changed."""
    changed = False
    if note.terms is not None and payment.amount is None:
        payment.amount, payment.currency, payment.card_token = (
            note.terms.amount,
            note.terms.currency,
            note.terms.card_token,
        )
        changed = True
    if note.stock_held and not payment.stock_held:
        payment.stock_held = changed = True
    if note.ended or note.refund:
        return _compensate(payment, note) or changed
    if payment.status == Status.PENDING and payment.amount is not None and payment.stock_held:
        state.transition(payment, Status.CHARGING)
        return True
    return changed


def _compensate(payment: _Row, note: Note) -> bool:
    """The order ended, or is to be refunded: whatever it paid goes back; whether that changed
    the payment. A refund note on a payment not yet charged changes nothing."""
    if note.ended and payment.status == Status.PENDING:
        # Never charged, and now never to be.
        state.transition(payment, Status.VOIDED)
        payment.failure_reason = note.ended[:100]
        payment.version += 1
        return True
    if payment.status == Status.CHARGING and not payment.order_ended:
        payment.order_ended = True  # refunded once the charge's answer comes, if it was charged
        payment.failure_reason = (note.ended or note.refund)[:100]
        return True
    if payment.status == Status.CAPTURED:
        state.transition(payment, Status.REFUNDING)
        if note.refund:
            payment.failure_reason = note.refund[:100]
        return True
    return False


# --- the gateway, outside any transaction, and the answers recorded ---


@dataclass(frozen=True)
class _Answer:
    """What the gateway said to one intent: a charge's result, a refund's reference, or
    nothing (`unknown`: no answer; the intent stays for another attempt)."""

    charge: ChargeResult | None = None
    refund: str | None = None
    unknown: str = ""


def payments_settle(order_ids: list[str], causes: dict[str, Envelope] | None = None) -> int:
    """Send the open intents among `order_ids` to the gateway and record its answers; how many
    were settled. `causes` names the event that opened an intent, as the cause of the event that
    records its outcome. A charge answered for an order that ended meanwhile opens its refund,
    sent in the next round."""
    causes = causes or {}
    settled = 0
    for _round in range(2):
        intents = list(Payment.objects.filter(order_id__in=order_ids, status__in=state.INTENTS))
        if not intents:
            break
        answers = _ask(intents)
        with transaction.atomic(), outbox_batch(), connection.cursor() as cursor:
            payments = _lock(cursor, sorted(answers))
            recorded = [
                payments[order_id]
                for order_id, (status, answer) in sorted(answers.items())
                if order_id in payments
                and payments[order_id].status == status
                and _record(payments[order_id], answer, causes.get(order_id))
            ]
            if recorded:
                sql.PAYMENTS_WRITE.execute(cursor, _columns(recorded))
        settled += sum(1 for _, answer in answers.values() if not answer.unknown)
        order_ids = [p.order_id for p in recorded if p.status == Status.REFUNDING]
        if not order_ids:
            break
    return settled


def payments_settle_stalled(*, limit: int = 500) -> int:
    """The periodic retry: send again, with their keys, the intents nobody has settled for
    PAYMENTS_INTENT_RETRY_SECONDS (the process died after committing them, or the gateway gave
    no answer); how many were settled."""
    quiet_since = timezone.now() - timedelta(seconds=settings.PAYMENTS_INTENT_RETRY_SECONDS)
    stalled = list(
        Payment.objects.filter(status__in=state.INTENTS, updated_at__lt=quiet_since)
        .order_by("updated_at")
        .values_list("order_id", flat=True)[:limit]
    )
    return payments_settle(stalled) if stalled else 0


def _ask(intents: list[Payment]) -> dict[str, tuple[str, _Answer]]:
    """Each intent's answer from the gateway, several calls at once. Once as many calls in a
    row as go out at once have gone unanswered, the rest are not sent: a gateway that has
    stopped answering is not asked hundreds more times by one batch (the periodic retry tries
    again later), while the odd timeout among answers stops nothing."""
    lock, unanswered = threading.Lock(), [0]

    def ask(payment: Payment) -> _Answer:
        if unanswered[0] >= settings.PAYMENTS_GATEWAY_CONCURRENCY:
            return _Answer(unknown="not sent: the gateway had stopped answering")
        answer = _call(payment)
        with lock:
            unanswered[0] = unanswered[0] + 1 if answer.unknown else 0
        return answer

    if len(intents) > 1:
        calls = _executor(settings.PAYMENTS_GATEWAY_CONCURRENCY).map(ask, intents)
    else:
        calls = map(ask, intents)
    return {p.order_id: (p.status, answer) for p, answer in zip(intents, calls, strict=True)}


def _call(payment: Payment) -> _Answer:
    """One intent sent to the gateway: tried again at once, with its key, after a transient
    failure (a retried call that had been performed gets the gateway's kept answer)."""
    kind = "charge" if payment.status == Status.CHARGING else "refund"
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.PAYMENTS_GATEWAY_ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=0.05, max=1),
        retry=tenacity.retry_if_exception_type(GatewayUnavailable),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt, metrics.GATEWAY_SECONDS.labels(kind).time():
                if kind == "charge":
                    return _Answer(
                        charge=gateway().charge(
                            idempotency_key=state.charge_key(payment.order_id),
                            order_id=payment.order_id,
                            amount=payment.amount,
                            currency=payment.currency,
                            card_token=payment.card_token,
                        )
                    )
                return _Answer(
                    refund=gateway().refund(
                        idempotency_key=state.refund_key(payment.order_id),
                        order_id=payment.order_id,
                        reference=payment.gateway_reference,
                    )
                )
    except (GatewayUnavailable, GatewayRefused) as exc:
        outcome = "unavailable" if isinstance(exc, GatewayUnavailable) else "refused"
        metrics.GATEWAY_UNANSWERED.labels(kind, outcome).inc()
        log = logger.warning if outcome == "unavailable" else logger.error
        log("%s of order %s left for another attempt: %s", kind, payment.order_id, exc)
        return _Answer(unknown=str(exc))
    raise AssertionError("unreachable")  # pragma: no cover


@functools.cache
def _executor(concurrency: int) -> ThreadPoolExecutor:
    """The threads that call the gateway, as many as PAYMENTS_GATEWAY_CONCURRENCY: the
    unanswered count in `_ask` stops a batch after that many, so the two must agree."""
    return ThreadPoolExecutor(concurrency, thread_name_prefix="gateway")


def _record(payment: _Row, answer: _Answer, caused_by: Envelope | None) -> bool:
    """Record the gateway's answer on `payment` (locked, still the intent it answers); whether
    anything changed."""
    if answer.unknown:
        payment.attempted_at = timezone.now()
        return True
    if answer.charge is not None:
        result = answer.charge
        state.transition(payment, Status.CAPTURED if result.approved else Status.DECLINED)
        payment.gateway_reference = result.reference
        if not (result.approved and payment.order_ended):
            payment.failure_reason = result.decline_code
        payment.processed_at = timezone.now()
        payment.version += 1
        _publish(
            "PaymentProcessed",
            payment,
            {"status": "succeeded" if result.approved else "failed", "reason": result.decline_code},
            caused_by,
        )
        if result.approved and payment.order_ended:
            state.transition(payment, Status.REFUNDING)  # charged for an order that has ended
        return True
    state.transition(payment, Status.REFUNDED)
    payment.refund_reference = answer.refund or ""
    payment.refunded_at = timezone.now()
    payment.version += 1
    _publish("PaymentRefunded", payment, {}, caused_by)
    return True


def _publish(event_type: str, payment: _Row, payload: dict, caused_by: Envelope | None) -> None:
    publish(
        event_type,
        aggregate_type="order",
        aggregate_id=payment.order_id,
        sequence=payment.version,
        payload={
            "order_id": payment.order_id,
            "payment_id": payment.payment_id,
            "amount": payment.amount,
            **payload,
        },
        caused_by=caused_by,
    )


def _columns(rows) -> list[list]:
    rows = list(rows)
    return [
        [r.order_id for r in rows],
        [r.status for r in rows],
        [r.amount for r in rows],
        [r.currency for r in rows],
        [r.card_token for r in rows],
        [r.stock_held for r in rows],
        [r.gateway_reference for r in rows],
        [r.refund_reference for r in rows],
        [r.order_ended for r in rows],
        [r.failure_reason for r in rows],
        [r.version for r in rows],
        [r.processed_at for r in rows],
        [r.refunded_at for r in rows],
        [r.attempted_at for r in rows],
    ]


# --- support's refund, one payment at a time (the admin) ---


class RefundRefused(ValueError):
    """Support asked to refund a payment that is not captured (`code`: NOT_CAPTURED)."""

    NOT_CAPTURED = "not_captured"

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def payment_refund(*, payment_id, by: str) -> Payment:
    """Support's refund of a captured payment (admin): refunded once the gateway has answered,
    still refunding if it has not (the periodic retry finishes it)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(payment_id=payment_id)
        if payment.status != Status.CAPTURED:
            raise RefundRefused(
                RefundRefused.NOT_CAPTURED,
                f"payment {payment.payment_id} is {payment.status}; only captured payments can be refunded",
            )
        payments_apply([Note(payment.order_id, refund=f"refunded by {by}")])
    payment.refresh_from_db()
    return payment
