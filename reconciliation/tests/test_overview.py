"""The overview page: how far behind each service's consumers are, as measured, and the
divergences found per hour."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reconciliation import selectors
from reconciliation.models import Divergence, Severity

pytestmark = pytest.mark.django_db


def test_the_overview_shows_each_services_consumers_delay_and_a_stalled_one(admin_client, pipeline_measured):
    pipeline_measured(
        {"consumer:orders": 0.4, "consumer:inventory": 42.0, "consumer:payments": 7.25},
        stalled={"consumer:inventory"},
    )

    page = admin_client.get("/admin/reconciliation/divergence/overview/").content.decode()

    assert "consumers behind (oldest event not applied)" in page
    assert "<strong>stalled</strong>, 42.0 s" in page
    assert "<td>7.3 s</td>" in page
    # reconciliation's own consumers were never measured here
    assert page.count("<strong>not measured</strong>") == 1


def test_the_overview_is_headed_by_the_services_own_admin_title(admin_client):
    page = admin_client.get("/admin/reconciliation/divergence/overview/").content.decode()

    assert "Reconciliation service administration" in page
    assert "Django administration" not in page


def test_divergences_are_counted_in_the_hour_they_were_found_by_severity(make_divergence):
    found = timezone.now().replace(minute=40, second=0, microsecond=0) - timedelta(hours=3)
    make_divergence(order_id="o1", severity=Severity.CRITICAL)
    make_divergence(order_id="o2", severity=Severity.CRITICAL)
    make_divergence(order_id="o3", severity=Severity.WARNING)
    Divergence.objects.update(first_seen_at=found)
    make_divergence(order_id="o4", severity=Severity.WARNING)
    Divergence.objects.filter(order_id="o4").update(first_seen_at=found - timedelta(hours=30))

    rows = selectors.divergences_per_hour(hours=24)

    hour = found.replace(minute=0)
    assert sorted(rows) == [(hour, Severity.CRITICAL, 2), (hour, Severity.WARNING, 1)]


def test_the_overview_is_for_who_may_view_divergences_not_any_staff_member(client, viewer, django_user_model):
    url = "/admin/reconciliation/divergence/overview/"
    client.force_login(django_user_model.objects.create_user("nobody", password="x", is_staff=True))
    assert client.get(url).status_code == 403

    client.force_login(viewer)
    assert client.get(url).status_code == 200
