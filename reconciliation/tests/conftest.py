"""Fixtures of the reconciliation service's tests: divergences as the sweep records them, the rule
policies, and the three services' internal APIs faked in memory (no HTTP)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events import pipeline
from events.contracts.state import OrderRecord, PaymentRecord, ProductRecord, ReservationRecord
from reconciliation import clients
from reconciliation.models import Divergence, Fix, Kind, RulePolicy, Severity
from reconciliation.services import horizon
from reconciliation.tests.records import order_record, payment_record, reservation_record

ORDER = "9e3c2a1b-7d4f-4c8e-b5a6-3f2e1d0c9b8a"


@pytest.fixture
def make_divergence(db):
    """An open divergence of an order (a captured payment for a failed order, by default)."""

    def make(
        *,
        kind: str = Kind.CHARGED_NOT_COMPLETED,
        fix: str = Fix.REFUND_PAYMENT,
        order_id: str = ORDER,
        subject: str | None = None,
        entities: list[dict] | None = None,
        status: str = Divergence.Status.OPEN,
        severity: str = Severity.CRITICAL,
    ) -> Divergence:
        now = timezone.now()
        return Divergence.objects.create(
            kind=kind,
            severity=severity,
            status=status,
            subject=subject or f"order {order_id}",
            order_id=order_id,
            entities=[{"service": "orders", "type": "order", "id": order_id}]
            if entities is None
            else entities,
            detail="seen by the test",
            suggested_fix=fix,
            first_seen_at=now,
            last_seen_at=now,
            closed_at=None if status in (Divergence.Status.OPEN, Divergence.Status.IGNORED) else now,
        )

    return make


@pytest.fixture
def policy(db):
    """Set one rule's policy (the migration's defaults are not relied on)."""

    def set_policy(kind: str, *, automatic: bool = False, enabled: bool = True, threshold_seconds: int = 0):
        return RulePolicy.objects.update_or_create(
            kind=kind,
            defaults={"automatic": automatic, "enabled": enabled, "threshold_seconds": threshold_seconds},
        )[0]

    return set_policy


class FakeServices:
    """The orders, inventory and payments internal APIs, answering from the contract's records.

    `down` names a service that does not answer; `asked` records what the sweep asked for.
    """

    def __init__(self):
        self.orders: dict[str, OrderRecord] = {}
        self.reservations: dict[str, ReservationRecord] = {}
        self.payments: dict[str, PaymentRecord] = {}
        self.products: list[ProductRecord] = []
        self.down = ""
        self.asked: list[tuple] = []
        # Seconds each service's oldest unpublished outbox event has waited.
        self.outbox_age = {"orders": 0.0, "inventory": 0.0, "payments": 0.0}

    def order(self, order_id: str, order=None, reservation=None, payment=None, *, age=timedelta(hours=1)):
        """Put the services' records of an order (status names; None for no record), last changed
        `age` ago."""
        at = timezone.now() - age
        for records, status, build in (
            (self.orders, order, order_record),
            (self.reservations, reservation, reservation_record),
            (self.payments, payment, payment_record),
        ):
            records.pop(order_id, None)
            if status is not None:
                records[order_id] = build(order_id, status, at=at)

    def state_of_orders(self, order_ids: list[str], known=None) -> clients.ServiceState:
        self.asked.append(("orders", tuple(order_ids)))
        self._answer()
        return clients.ServiceState(
            {i: r for i, r in self.orders.items() if i in order_ids},
            {i: r for i, r in self.reservations.items() if i in order_ids},
            {i: r for i, r in self.payments.items() if i in order_ids},
            list(self.products),
        )

    def state_changed_since(self, since, until=None, *, between_pages=None) -> clients.ServiceState:
        self.asked.append(("since", since))
        self._answer()

        def changed(records):
            return {i: r for i, r in records.items() if r.updated_at >= since}

        return clients.ServiceState(
            changed(self.orders), changed(self.reservations), changed(self.payments), list(self.products)
        )

    def backlog(self, service: str) -> dict:
        self._answer()
        return {
            "outbox_backlog": 0,
            "outbox_oldest_age_seconds": self.outbox_age[service],
            "dead_letters_open": 0,
        }

    def _answer(self):
        if self.down:
            raise clients.ServiceUnavailable(f"{self.down}: connection refused")


@pytest.fixture
def pipeline_caught_up(pipeline_measured):
    """Every consumer group and this service's outbox measured just now, nothing waiting."""
    stages = [pipeline.consumer_stage(c) for c in horizon.CONSUMERS] + [pipeline.OUTBOX]
    pipeline_measured(dict.fromkeys(stages, 0.0))


@pytest.fixture
def services(monkeypatch, pipeline_caught_up):
    """The three services' internal APIs, faked; the pipeline measured caught up."""
    fake = FakeServices()
    monkeypatch.setattr(clients, "state_of_orders", fake.state_of_orders)
    monkeypatch.setattr(clients, "state_changed_since", fake.state_changed_since)
    monkeypatch.setattr(clients, "backlog", fake.backlog)
    return fake
