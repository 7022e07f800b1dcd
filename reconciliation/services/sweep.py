"""The sweep: audit the services' authoritative state, find divergences, open, fix and close them.

0. Find the horizon (services/horizon.py): the time up to which every change's events can have
   reached every side. Changes after it, less the settling time, are not yet auditable: the
   rules leave them alone (lag is not divergence), and the next sweep's window starts there.
1. Pick the orders to audit: those changed since the previous sweep's horizon (less an overlap),
   per the projection (their events' arrival) and per each service; every pending order past
   its SLA; every order with an open divergence. Or exactly the orders asked for.
2. Read the three services' state of them (internal APIs) and every product's stock.
3. Repair the projection from that state where the services' version is newer.
4. Run the enabled rules. A finding opens a divergence (or refreshes the open one); an
   automatic policy sends its fix at once, at most RECONCILIATION_AUTO_FIXES_PER_SWEEP a sweep,
   unless the breaker trips (_breaker_trips: a mass divergence): then no fix is sent, and they
   wait for a person (the overview page and the MassDivergence alert say so).
5. An open divergence of an audited subject that no rule reported any more is closed:
   auto_resolved if the system's own fix repaired it, resolved otherwise.
"""

import json
import logging
import time
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from events import pipeline
from events.topics import SAGA_SERVICES
from reconciliation import clients, metrics, rules, state
from reconciliation.models import (
    Divergence,
    DivergenceAction,
    Fix,
    Kind,
    OrderSaga,
    RulePolicy,
    SagaStep,
    Sweep,
)
from reconciliation.services import horizon, projection, resolution

logger = logging.getLogger(__name__)


class NotAuditable(Exception):
    """The pipeline's delay is unknown: no change can be told settled."""


# The advisory lock key that serialises sweeps.
SWEEP_LOCK = 7_160_001


def sweep_run(
    *,
    triggered_by: str,
    order_ids: list[str] | None = None,
    since=None,
    settle_seconds: int | None = None,
    yield_to_load: bool = False,
) -> Sweep:
    """Run one sweep and return its record (its `error` says why it could not finish).

    Sweeps run one at a time (a PostgreSQL advisory lock): a second one waits for the first.
    `yield_to_load` (the scheduled sweep): rest while the pipeline is overloaded (_Pace).
    """
    with _one_at_a_time():
        return _sweep(triggered_by, order_ids, since, settle_seconds, yield_to_load)


@contextmanager
def _one_at_a_time():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [SWEEP_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK])


def _sweep(triggered_by, order_ids, since, settle_seconds, yield_to_load) -> Sweep:
    # A scheduled sweep's reads come in one burst (at 200 orders/s, 18,000 orders' records every
    # minute) through the same web processes and database as the customers' orders: paced, it
    # works only RECONCILIATION_SWEEP_DUTY of the time, resting between its pieces of work, and
    # a scheduled one gives way to an overload, from its start.
    pace = _Pace(
        settings.RECONCILIATION_SWEEP_DUTY,
        yield_seconds=settings.RECONCILIATION_SWEEP_YIELD_MAX_SECONDS if yield_to_load else 0.0,
    )
    pace.rest()
    now = timezone.now()
    sweep = Sweep.objects.create(started_at=now, triggered_by=triggered_by)
    settle = timedelta(
        seconds=settings.RECONCILIATION_SETTLE_SECONDS if settle_seconds is None else settle_seconds
    )
    policies = _policies()
    try:
        seen_up_to = horizon.horizon_measure(now)
        if seen_up_to.at is None:
            raise NotAuditable(seen_up_to.reason)
        ctx = rules.Context(
            now=now,
            settle=settle,
            pending_sla=timedelta(seconds=policies[Kind.STUCK_ORDER].threshold_seconds),
            horizon=seen_up_to.at,
        )
        sweep.audited_until, sweep.pipeline_lag_seconds = ctx.audited_until, seen_up_to.lag_seconds
        if seen_up_to.lag_seconds > settings.RECONCILIATION_SETTLE_SECONDS:
            logger.info(
                "sweep %s audits changes up to %s: %s", sweep.pk, ctx.audited_until, seen_up_to.reason
            )
        changed = None
        if order_ids is None:
            since = since or _default_since(now)
            sweep.since = since
            changed = clients.state_changed_since(since, between_pages=pace.rest)
            order_ids = _orders_to_audit(since, ctx) | set(changed.orders)
            order_ids |= set(changed.reservations) | set(changed.payments)
        wanted = sorted(set(order_ids))
        size = settings.RECONCILIATION_SWEEP_CHUNK
        findings, settled, products, known = [], [], [], changed
        for start in range(0, max(len(wanted), 1), size):
            if start:
                pace.rest()
            chunk = wanted[start : start + size]
            # The window's records stand; only what it did not hold is asked for by id.
            state = clients.state_of_orders(chunk, known=known)
            products = state.products
            known = known or clients.ServiceState({}, {}, {}, products)
            sagas = {s.order_id: s for s in OrderSaga.objects.filter(order_id__in=chunk)}
            order_views = _order_views(chunk, state, sagas)
            sweep.projection_repaired += sum(
                projection.saga_refresh(
                    order_id=v.order_id,
                    order=v.order,
                    reservation=v.reservation,
                    payment=v.payment,
                    current=sagas.get(v.order_id),
                )
                for v in order_views
            )
            findings += _order_findings(order_views, ctx, policies)
            # Only what the rules could judge counts as audited: an order still moving is left alone.
            settled += [v.order_id for v in order_views if rules.settled(v, ctx)]
        findings += _product_findings(products, ctx, policies)
        audited = {f"order {order_id}" for order_id in settled} | {f"product {p.sku}" for p in products}
        audited |= {f"order {order_id} events from {s}" for order_id in settled for s in SAGA_SERVICES}
        sweep.orders_audited, sweep.products_audited = len(wanted), len(products)
        _settle_divergences(sweep, findings, audited, policies)
    except clients.ServiceUnavailable as exc:
        logger.warning("sweep %s stopped: %s", sweep.pk, exc)
        sweep.error = str(exc)
    except NotAuditable as exc:
        logger.warning("sweep %s audited nothing: %s", sweep.pk, exc)
        sweep.error = f"nothing audited: how far behind the pipeline is, is unknown ({exc})"
    sweep.finished_at = timezone.now()
    sweep.save()
    if pace.rested:
        logger.info(
            "sweep %s rested %.1f s of its %.1f s (%.1f s of them giving way to the pipeline's load)",
            sweep.pk,
            pace.rested,
            time.monotonic() - pace.began,
            pace.yielded,
        )
    return sweep


# The stages whose waits tell an overload: the participants' consumers, the saga's path.
LOAD_STAGES = [pipeline.consumer_stage(name) for name in horizon.SOURCES]
# How often a sweep giving way looks at the pipeline again.
YIELD_POLL_SECONDS = 1.0


def pipeline_overloaded() -> bool:
    """Whether the participants' consumers would keep a new event waiting longer than
    RECONCILIATION_SWEEP_YIELD_WAIT_SECONDS (their waits summed; a stalled stage is an outage,
    not a load, and a stage not measured counts as none)."""
    stages = pipeline.delays(LOAD_STAGES).values()
    wait = sum(s.wait_seconds for s in stages if not s.stalled and not s.stale)
    return wait > settings.RECONCILIATION_SWEEP_YIELD_WAIT_SECONDS


class _Pace:
    """Keeps a long piece of background work to a share of the time: after each part of it,
    rest() waits (1 - duty) / duty times as long as the part took (duty 1: never), then, up to
    `yield_seconds` in all, for as long as the pipeline is overloaded."""

    def __init__(self, duty: float, *, yield_seconds: float = 0.0):
        self.duty = duty
        self.began = self.mark = time.monotonic()
        self.rested = self.yielded = 0.0
        self.yield_seconds = yield_seconds

    def rest(self) -> None:
        worked = time.monotonic() - self.mark
        if self.duty < 1 and worked > 0:
            pause = worked * (1 - self.duty) / self.duty
            time.sleep(pause)
            self.rested += pause
        while self.yielded < self.yield_seconds and pipeline_overloaded():
            time.sleep(YIELD_POLL_SECONDS)
            self.yielded += YIELD_POLL_SECONDS
            self.rested += YIELD_POLL_SECONDS
        self.mark = time.monotonic()


def _policies() -> dict[str, RulePolicy]:
    policies = {p.kind: p for p in RulePolicy.objects.all()}
    for kind in Kind:
        policies.setdefault(kind, RulePolicy(kind=kind))
    return policies


def _default_since(now):
    last = (
        Sweep.objects.filter(error="", finished_at__isnull=False, since__isnull=False)
        .order_by("-started_at")
        .first()
    )
    if last is None:
        return now - timedelta(hours=settings.RECONCILIATION_FIRST_SWEEP_HOURS)
    # What the last sweep left as not yet auditable (changed after its horizon) is audited now.
    reached = min(last.started_at, last.audited_until or last.started_at)
    return reached - timedelta(seconds=settings.RECONCILIATION_SWEEP_OVERLAP_SECONDS)


def _orders_to_audit(since, ctx: rules.Context) -> set[str]:
    changed = SagaStep.objects.filter(received_at__gte=since).values_list("saga_id", flat=True).distinct()
    stuck = OrderSaga.objects.filter(
        order_status="pending", created_at__lt=(ctx.horizon or ctx.now) - ctx.pending_sla
    ).values_list("order_id", flat=True)
    open_ones = (
        Divergence.objects.filter(status=Divergence.Status.OPEN)
        .exclude(order_id="")
        .values_list("order_id", flat=True)
    )
    return set(changed) | set(stuck) | set(open_ones)


def _order_views(order_ids: list[str], state: clients.ServiceState, sagas: dict) -> list[rules.OrderView]:
    steps: dict[str, list[tuple[str, int]]] = {}
    for order_id, producer, sequence in SagaStep.objects.filter(saga_id__in=order_ids).values_list(
        "saga_id", "producer", "sequence"
    ):
        steps.setdefault(order_id, []).append((producer, sequence))
    return [
        rules.OrderView(
            order_id=order_id,
            order=state.orders.get(order_id),
            reservation=state.reservations.get(order_id),
            payment=state.payments.get(order_id),
            saga=_saga_dict(sagas.get(order_id)),
            steps=steps.get(order_id, []),
        )
        for order_id in order_ids
    ]


def _saga_dict(saga: OrderSaga | None) -> dict | None:
    if saga is None:
        return None
    data = model_to_dict(saga)
    data["last_event_at"] = saga.last_event_at
    return data


def _order_findings(order_views, ctx, policies) -> list[tuple[rules.Finding, rules.OrderView]]:
    found = []
    for view in order_views:
        for kind, rule in rules.ORDER_RULES.items():
            if policies[kind].enabled:
                found.extend((f, view) for f in rule(view, ctx) if policies[f.kind].enabled)
    return found


def _product_findings(products, ctx, policies) -> list[tuple[rules.Finding, None]]:
    return [(f, None) for p in products for f in rules.stock(p, ctx) if policies[f.kind].enabled]


def _settle_divergences(sweep: Sweep, findings, audited: set[str], policies) -> None:
    seen: set[tuple[str, str]] = set()
    to_fix: list[Divergence] = []
    for finding, view in findings:
        seen.add((finding.kind, finding.subject))
        evidence = view.evidence() if view else {"inventory": finding.entities}
        divergence, created = _record(finding, evidence, sweep.started_at)
        sweep.found += 1
        if created:
            sweep.opened += 1
            last = view.last_change() if view else None
            delay = (sweep.started_at - last).total_seconds() if last else 0
            metrics.DETECTION_DELAY.labels(kind=finding.kind).observe(max(delay, 0))
        if (
            divergence.status == Divergence.Status.OPEN
            and divergence.fix_requested_at is None
            and policies[finding.kind].automatic
            and divergence.suggested_fix != Fix.MANUAL
        ):
            to_fix.append(divergence)
    if _breaker_trips(sweep, len(to_fix)):
        sweep.fixes_held = len(to_fix)
        metrics.FIXES_HELD.inc(len(to_fix))
        logger.warning(
            "sweep %s: mass divergence (%s opened, %s to fix of %s orders audited): no automatic fix sent;"
            " they wait for a person",
            sweep.pk,
            sweep.opened,
            len(to_fix),
            sweep.orders_audited,
        )
    else:
        # At most so many a sweep: the rest stay open and the next sweep sends theirs.
        for divergence in to_fix[: settings.RECONCILIATION_AUTO_FIXES_PER_SWEEP]:
            resolution.divergence_apply_fix(divergence=divergence, actor=resolution.SYSTEM, automatic=True)
            sweep.fixes_requested += 1
    # A disabled rule did not look: its open divergences stay as they are.
    judged = [kind for kind, policy in policies.items() if policy.enabled]
    # Matched here rather than in SQL: after a backlog a sweep can audit tens of thousands of
    # subjects with thousands of findings, and "NOT (kind = .. AND subject = .. OR ...)" over
    # them kept a PostgreSQL backend busy for over twenty minutes, through a fast shutdown.
    open_ones = Divergence.objects.filter(status=Divergence.Status.OPEN, kind__in=judged)
    gone = [
        pk
        for pk, kind, subject in open_ones.values_list("pk", "kind", "subject")
        if subject in audited and (kind, subject) not in seen
    ]
    for pk in gone:
        resolution.divergence_confirm_gone(divergence_id=pk)
        sweep.closed += 1


def _breaker_trips(sweep: Sweep, fixes: int) -> bool:
    """Whether this sweep found too much to trust its own fixes: more divergences opened than
    RECONCILIATION_BREAKER_MAX_OPENED, or (past RECONCILIATION_BREAKER_MIN_FIXES) more automatic
    fixes than RECONCILIATION_BREAKER_MAX_FIX_SHARE of what it audited. Mass divergence is more
    likely a fault of the audit's inputs (a lagging or broken pipeline, a bad deploy) than of
    that many orders; acting on it would add load and could do harm at scale."""
    audited = sweep.orders_audited + sweep.products_audited
    too_many_fixes = fixes >= settings.RECONCILIATION_BREAKER_MIN_FIXES and (
        fixes > settings.RECONCILIATION_BREAKER_MAX_FIX_SHARE * audited
    )
    return sweep.opened > settings.RECONCILIATION_BREAKER_MAX_OPENED or too_many_fixes


def _record(finding: rules.Finding, evidence: dict, now) -> tuple[Divergence, bool]:
    with transaction.atomic():
        divergence = (
            Divergence.objects.select_for_update()
            .filter(kind=finding.kind, subject=finding.subject, status__in=state.ACTIVE)
            .first()
        )
        evidence = _jsonable(evidence)
        if divergence is not None:
            divergence.last_seen_at = now
            divergence.detail, divergence.evidence = finding.detail, evidence
            divergence.suggested_fix = finding.fix
            divergence.save(update_fields=["last_seen_at", "detail", "evidence", "suggested_fix"])
            return divergence, False
        divergence = Divergence.objects.create(
            kind=finding.kind,
            severity=finding.severity,
            subject=finding.subject,
            order_id=finding.order_id,
            entities=finding.entities,
            detail=finding.detail,
            suggested_fix=finding.fix,
            evidence=evidence,
            first_seen_at=now,
            last_seen_at=now,
        )
        DivergenceAction.objects.create(
            divergence=divergence,
            actor=resolution.SYSTEM,
            action=DivergenceAction.Action.DETECTED,
            outcome=finding.detail,
        )
    return divergence, True


def _jsonable(value):
    """Evidence as JSON: times to ISO strings, decimals to strings."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
