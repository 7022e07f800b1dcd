"""The overview page shows how far behind each service's consumers are, as measured."""

import pytest

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
