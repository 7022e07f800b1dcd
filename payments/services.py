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
2. Once that transaction commits, the intents are sent to the gateway outside any transaction,
   each with the key derived from its order (payments/state.py): by the caller's `dispatch`
   (the consumer's: payments/dispatch.py, calls in flight while the consumer reads on), or here
   and now, several at once (an admin action, the periodic retry).
3. Each answer is recorded in a second transaction (the payment locked again and still the same
   intent), with its event through the outbox: payments_record(). A call without an answer
   leaves the intent; the periodic payments_settle_stalled() sends it again, with the same key.
"""

import functools
import logging
import threading
from collections.abc import Callable
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


@dataclass(frozen=True)
class Intent:
    """A charge or refund committed and not yet answered: what a call to the gateway needs, and
    the event that opened it (the cause of the event that records its outcome)."""

    order_id: str
    status: str  # charging or refunding: the answer is recorded only while the payment still is
    amount: Decimal | None
    currency: str
    card_token: str
    gateway_reference: str
    caused_by: Envelope | None = None

    @classmethod
    def of(cls, payment, caused_by: Envelope | None = None) -> "Intent":
        """The intent of `payment` (a Payment, or a row as PAYMENTS_LOCK reads it)."""
        return cls(
            payment.order_id,
            payment.status,
            payment.amount,
            payment.currency,
            payment.card_token,
            payment.gateway_reference,
            caused_by,
        )


Dispatch = Callable[[list[Intent]], None]


def payments_apply(notes: list[Note], *, dispatch: Dispatch | None = None) -> None:
    """Apply `notes` in their order (in the caller's transaction, or one of its own); once that
    transaction has committed, the intents they opened go to `dispatch`, or are settled here and
    now when there is none (payments_settle_intents)."""
    if not notes:
        return
    with transaction.atomic(savepoint=False):
        changed = _locked_apply(sorted({note.order_id for note in notes if not note.refund}), notes)
        if any(p.status in state.INTENTS for p in changed):
            # The event that opened each intent is the cause of the event that records its outcome.
            causes = {note.order_id: note.caused_by for note in notes if note.caused_by is not None}
            intents = [Intent.of(p, causes.get(p.order_id)) for p in changed if p.status in state.INTENTS]
            transaction.on_commit(
                functools.partial(dispatch or payments_settle_intents, intents), robust=True
            )


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
class Answer:
    """What the gateway said to one intent: a charge's result, a refund's reference, or
    nothing (`unknown`: no answer; the intent stays for another attempt)."""

    charge: ChargeResult | None = None
    refund: str | None = None
    unknown: str = ""


def payments_settle(order_ids: list[str]) -> int:
    """Send the open intents among `order_ids` to the gateway and record its answers; how many
    were settled."""
    intents = Payment.objects.filter(order_id__in=order_ids, status__in=state.INTENTS)
    return payments_settle_intents([Intent.of(p) for p in intents])


def payments_settle_intents(intents: list[Intent]) -> int:
    """Send `intents` to the gateway, several at once, and record the answers; how many were
    settled. A charge answered for an order that ended meanwhile opens its refund, sent in the
    next round."""
    settled = 0
    for _round in range(2):
        if not intents:
            break
        answered = _ask(intents)
        intents = payments_record(answered)
        settled += sum(1 for _, answer in answered if not answer.unknown)
    return settled


def payments_record(answered: list[tuple[Intent, Answer]]) -> list[Intent]:
    """Record the gateway's answers, in one transaction with their events; the intents they
    opened (the refund of a charge for an order that ended while it was in flight). An answer
    for a payment that is no longer the intent it answers (another attempt recorded it first)
    changes nothing."""
    with transaction.atomic(), outbox_batch(), connection.cursor() as cursor:
        answers = {intent.order_id: (intent, answer) for intent, answer in answered}
        payments = _lock(cursor, sorted(answers))
        recorded = [
            payments[order_id]
            for order_id, (intent, answer) in sorted(answers.items())
            if order_id in payments
            and payments[order_id].status == intent.status
            and _record(payments[order_id], answer, intent.caused_by)
        ]
        if recorded:
            sql.PAYMENTS_WRITE.execute(cursor, _columns(recorded))
    return [
        Intent.of(p, answers[p.order_id][0].caused_by)
        for p in recorded
        if p.status == Status.REFUNDING and answers[p.order_id][0].status == Status.CHARGING
    ]


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


def _ask(intents: list[Intent]) -> list[tuple[Intent, Answer]]:
    """Each intent's answer from the gateway, several calls at once. Once as many calls in a
    row as go out at once have gone unanswered, the rest are not sent: a gateway that has
    stopped answering is not asked hundreds more times by one batch (the periodic retry tries
    again later), while the odd timeout among answers stops nothing."""
    lock, unanswered = threading.Lock(), [0]

    def ask(intent: Intent) -> Answer:
        if unanswered[0] >= settings.PAYMENTS_GATEWAY_CONCURRENCY:
            return Answer(unknown="not sent: the gateway had stopped answering")
        answer = intent_send(intent)
        with lock:
            unanswered[0] = unanswered[0] + 1 if answer.unknown else 0
        return answer

    if len(intents) > 1:
        calls = _executor(settings.PAYMENTS_GATEWAY_CONCURRENCY).map(ask, intents)
    else:
        calls = map(ask, intents)
    return list(zip(intents, calls, strict=True))


def intent_send(payment: Intent) -> Answer:
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
                    return Answer(
                        charge=gateway().charge(
                            idempotency_key=state.charge_key(payment.order_id),
                            order_id=payment.order_id,
                            amount=payment.amount,
                            currency=payment.currency,
                            card_token=payment.card_token,
                        )
                    )
                return Answer(
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
        return Answer(unknown=str(exc))
    raise AssertionError("unreachable")  # pragma: no cover


@functools.cache
def _executor(concurrency: int) -> ThreadPoolExecutor:
    """The threads that call the gateway, as many as PAYMENTS_GATEWAY_CONCURRENCY: the
    unanswered count in `_ask` stops a batch after that many, so the two must agree."""
    return ThreadPoolExecutor(concurrency, thread_name_prefix="gateway")


def _record(payment: _Row, answer: Answer, caused_by: Envelope | None) -> bool:
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
