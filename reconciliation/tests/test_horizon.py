"""Lag is not divergence: the sweep audits only what every side can have seen (the horizon), and
a sweep that finds too much sends no automatic fix (the breaker)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from events import pipeline
from events.models import OutboxEvent
from reconciliation.models import Divergence, Kind
from reconciliation.services.sweep import sweep_run
from reconciliation.tests.conftest import ORDER
from reconciliation.tests.test_projection import apply
from reconciliation.tests.test_sweep import commands, saga_event

pytestmark = pytest.mark.django_db

ALL_STAGES = [pipeline.consumer_stage(c) for c in ("orders", "inventory", "payments", "reconciliation")]


def sweep(*order_ids: str, settle_seconds: int = 15):
    return sweep_run(triggered_by="test", order_ids=list(order_ids) or None, settle_seconds=settle_seconds)


def behind(pipeline_measured, seconds: float, stage: str = "consumer:reconciliation") -> None:
    pipeline_measured(dict.fromkeys([*ALL_STAGES, pipeline.OUTBOX], 0.0) | {stage: seconds})


@pytest.mark.parametrize("stage", ["consumer:reconciliation", "consumer:orders", pipeline.OUTBOX])
def test_an_order_changed_within_the_pipelines_lag_yields_no_divergence_and_no_fix(
    services, policy, pipeline_measured, stage
):
    # given money captured for an order that failed a minute ago, while a stage is two minutes behind
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)
    services.order(ORDER, "failed", "released", "captured", age=timedelta(minutes=1))
    behind(pipeline_measured, 120.0, stage)

    # when
    run = sweep(ORDER)

    # then it is not yet auditable: nothing opened, nothing sent
    assert (run.error, run.found, Divergence.objects.count(), commands()) == ("", 0, 0, [])
    assert run.pipeline_lag_seconds == 120.0
    assert run.audited_until < run.started_at - timedelta(minutes=2)

    # and once the pipeline caught up, the same order is judged (the test can fail; no settling
    # time, since the sweep above repaired the projection just now)
    behind(pipeline_measured, 0.0, stage)
    assert sweep(ORDER, settle_seconds=0).found == 1


def test_another_services_outbox_behind_holds_the_audit_too(services, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)
    services.order(ORDER, "failed", "released", "captured", age=timedelta(minutes=1))
    services.outbox_age["payments"] = 300.0

    run = sweep(ORDER)

    assert (run.found, commands()) == (0, [])
    assert run.pipeline_lag_seconds == 300.0


def test_events_the_projection_has_not_consumed_yet_are_not_a_gap_and_are_not_resent(
    services, policy, pipeline_measured
):
    # given an order whose OrderCreated the projection has not applied, its consumer 10 min behind
    policy(Kind.EVENT_GAP, automatic=True)
    services.order(ORDER, "completed", "committed", "captured", age=timedelta(minutes=5))
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    for event in [
        saga_event("InventoryReserved", "inventory", 1, long_ago),
        saga_event("PaymentProcessed", "payments", 1, long_ago),
    ]:
        apply(event)
    behind(pipeline_measured, 600.0)

    run = sweep(ORDER)

    assert (run.found, OutboxEvent.objects.filter(event_type="RepublishEvents").count()) == (0, 0)


@pytest.mark.parametrize("measurement", ["missing", "stale"])
def test_a_sweep_audits_nothing_while_the_pipelines_delay_is_unknown(
    services, policy, pipeline_measured, measurement
):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)
    services.order(ORDER, "failed", "released", "captured")
    if measurement == "missing":
        pipeline.PipelineStage.objects.filter(name="consumer:payments").delete()
    else:
        pipeline_measured({"consumer:payments": 0.0}, ago=600)

    run = sweep(ORDER)

    assert run.error.startswith("nothing audited: how far behind the pipeline is, is unknown")
    assert "consumer:payments" in run.error
    assert (run.found, Divergence.objects.count(), commands()) == (0, 0, [])


def test_the_next_sweep_starts_where_the_last_one_could_audit_to(services, pipeline_measured):
    behind(pipeline_measured, 300.0)
    first = sweep()
    services.asked.clear()

    sweep()

    assert services.asked[0][0] == "since"
    assert services.asked[0][1] <= first.audited_until - timedelta(seconds=1)
    assert first.audited_until <= first.started_at - timedelta(seconds=300 + 15)


def test_a_pending_order_behind_a_backlog_is_not_stuck(services, policy, pipeline_measured):
    policy(Kind.STUCK_ORDER, automatic=True, threshold_seconds=300)
    services.order(ORDER, "pending", "held", "pending", age=timedelta(minutes=6))
    behind(pipeline_measured, 120.0, "consumer:payments")

    assert sweep(ORDER).found == 0

    behind(pipeline_measured, 0.0, "consumer:payments")
    assert sweep(ORDER, settle_seconds=0).found == 1


# --- the breaker ---


def orders_charged_for_failed_orders(services, count: int) -> list[str]:
    ids = [f"9e3c2a1b-7d4f-4c8e-b5a6-{n:012d}" for n in range(count)]
    for order_id in ids:
        services.order(order_id, "failed", "released", "captured")
    return ids


@override_settings(RECONCILIATION_BREAKER_MIN_FIXES=20, RECONCILIATION_BREAKER_MAX_FIX_SHARE=0.05)
def test_a_sweep_that_would_fix_too_many_sends_nothing_and_leaves_them_for_a_person(services, policy):
    # given 25 orders charged though failed, all audited: 25 fixes for 25 orders is a mass divergence
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)
    ids = orders_charged_for_failed_orders(services, 25)

    run = sweep(*ids)

    assert (run.opened, run.fixes_requested, run.fixes_held) == (25, 0, 25)
    assert commands() == []
    assert not Divergence.objects.filter(fix_requested_at__isnull=False).exists()
    assert Divergence.objects.filter(status=Divergence.Status.OPEN).count() == 25


@override_settings(RECONCILIATION_BREAKER_MAX_OPENED=3, RECONCILIATION_BREAKER_MIN_FIXES=1000)
def test_a_sweep_that_opens_too_many_divergences_sends_no_fix(services, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)
    ids = orders_charged_for_failed_orders(services, 4)

    run = sweep(*ids)

    assert (run.opened, run.fixes_requested, run.fixes_held, commands()) == (4, 0, 4, [])


@override_settings(RECONCILIATION_BREAKER_MIN_FIXES=20, RECONCILIATION_AUTO_FIXES_PER_SWEEP=2)
def test_a_few_fixes_are_sent_at_most_so_many_a_sweep(services, policy):
    # given three divergences (under the breaker's floor) and two fixes allowed a sweep
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)
    ids = orders_charged_for_failed_orders(services, 3)

    first, second = sweep(*ids, settle_seconds=0), sweep(*ids, settle_seconds=0)

    assert (first.fixes_held, first.fixes_requested, second.fixes_requested) == (0, 2, 1)
    assert len(commands()) == 3
