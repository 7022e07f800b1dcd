"""The staff API: the divergences, filtered; a sweep on demand (over faked internal APIs)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.fields import DateTimeField
from rest_framework.test import APIClient

from config.middleware import NUL_REFUSED
from reconciliation.api.v1.views import MAX_LISTED
from reconciliation.models import Divergence, Fix, Kind, Severity, Sweep
from reconciliation.tests.conftest import ORDER

pytestmark = pytest.mark.django_db

Status = Divergence.Status
DIVERGENCES = "/api/v1/divergences"
RECONCILE = "/api/v1/reconcile"
as_json = DateTimeField().to_representation


@pytest.fixture
def staff(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def three(make_divergence):
    """An open and a resolved divergence of two orders, and an ignored one of a product."""
    return {
        "open": make_divergence(order_id=ORDER),
        "resolved": make_divergence(order_id="other", kind=Kind.HELD_FOR_ENDED_ORDER, status=Status.RESOLVED),
        "ignored": make_divergence(
            kind=Kind.NEGATIVE_STOCK,
            fix=Fix.MANUAL,
            order_id="",
            subject="product MUG",
            entities=[{"service": "inventory", "type": "product", "id": "MUG"}],
            status=Status.IGNORED,
        ),
    }


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()}


def test_staff_list_every_divergence_with_what_support_needs(staff, three):
    response = staff.get(DIVERGENCES)

    assert ids(response) == {d.pk for d in three.values()}
    listed = next(item for item in response.json() if item["id"] == three["open"].pk)
    assert listed == {
        "id": three["open"].pk,
        "kind": Kind.CHARGED_NOT_COMPLETED,
        "severity": Severity.CRITICAL,
        "order_id": ORDER,
        "subject": f"order {ORDER}",
        "status": Status.OPEN,
        "detected_at": as_json(three["open"].first_seen_at),
        "last_seen_at": as_json(three["open"].last_seen_at),
        "detail": "seen by the test",
        "suggested_fix": Fix.REFUND_PAYMENT,
        "fix_requested_at": None,
        "closed_at": None,
    }


@pytest.mark.parametrize("status", [Status.OPEN, Status.RESOLVED, Status.IGNORED])
def test_the_list_filters_by_status(staff, three, status):
    assert ids(staff.get(DIVERGENCES, {"status": status})) == {three[status].pk}


def test_the_list_filters_by_kind_and_by_order(staff, three):
    assert ids(staff.get(DIVERGENCES, {"kind": Kind.NEGATIVE_STOCK})) == {three["ignored"].pk}
    assert ids(staff.get(DIVERGENCES, {"order_id": "other"})) == {three["resolved"].pk}


def test_an_unknown_status_is_refused_with_the_ones_there_are(staff, three):
    response = staff.get(DIVERGENCES, {"status": "closed"})

    assert response.status_code == 400
    assert response.json() == {"status": [f"one of {', '.join(Status.values)}"]}


@pytest.mark.parametrize("query", ["kind=a%00b", "order_id=%00"])
def test_a_filter_holding_a_nul_character_is_a_400_not_a_server_error(staff, three, query):
    # found by Schemathesis (docs/hostile-input.md): PostgreSQL cannot compare text holding NUL
    response = staff.get(f"{DIVERGENCES}?{query}")

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_REFUSED}


def test_listing_costs_one_query_however_many_divergences(staff, three, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert len(staff.get(DIVERGENCES).json()) == 3


def test_the_list_is_capped_at_the_newest(staff):
    now = timezone.now()
    Divergence.objects.bulk_create(
        Divergence(
            kind=Kind.STUCK_ORDER,
            severity=Severity.WARNING,
            subject=f"order o{i}",
            order_id=f"o{i}",
            detail="-",
            suggested_fix=Fix.FAIL_ORDER,
            first_seen_at=now,
            last_seen_at=now,
        )
        for i in range(MAX_LISTED + 1)
    )

    assert len(staff.get(DIVERGENCES).json()) == MAX_LISTED


def test_a_sweep_on_demand_answers_with_what_it_saw(staff, services, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)
    services.order(ORDER, "failed", "released", "captured")

    response = staff.post(RECONCILE, {"order_ids": [ORDER], "settle_seconds": 0}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    run = Sweep.objects.get()
    assert run.triggered_by == "staff API (admin)"
    assert (body["id"], body["orders_audited"], body["opened"], body["fixes_requested"], body["error"]) == (
        run.pk,
        1,
        1,
        1,
        "",
    )
    assert [(d["kind"], d["order_id"], d["status"]) for d in body["divergences"]] == [
        (Kind.CHARGED_NOT_COMPLETED, ORDER, Status.OPEN)
    ]
    assert body["divergences"][0]["fix_requested_at"] is not None


def test_a_sweep_lists_the_divergences_it_closed(staff, services, policy, make_divergence):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    gone = make_divergence(order_id=ORDER)
    services.order(ORDER, "failed", "released", "refunded")

    body = staff.post(RECONCILE, {"order_ids": [ORDER], "settle_seconds": 0}, format="json").json()

    assert body["closed"] == 1
    assert [(d["id"], d["status"]) for d in body["divergences"]] == [(gone.pk, Status.RESOLVED)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"order_ids": [ORDER], "since": (timezone.now() - timedelta(minutes=5)).isoformat()},
            "non_field_errors",
        ),
        ({"order_ids": []}, "order_ids"),
        ({"settle_seconds": -1}, "settle_seconds"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_a_bad_sweep_request_is_refused_field_by_field(staff, services, body, field):
    response = staff.post(RECONCILE, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Sweep.objects.exists()


def test_a_sweep_over_the_api_reaches_at_most_an_hour_back_and_says_how_to_go_further(staff, services):
    # a sweep from 2000 audited every order of a benchmarked stack inside the request (make fuzz)
    response = staff.post(RECONCILE, {"since": "2000-01-01T00:00:00Z"}, format="json")

    assert response.status_code == 400
    assert response.json()["since"] == [
        "a sweep over the API reaches back at most 1 h; for a longer audit run"
        " `manage.py reconcile --since 2000-01-01T00:00:00+00:00` on a reconciliation host"
    ]
    assert not Sweep.objects.exists()

    # and an hour back is a sweep like any other
    recent = (timezone.now() - timedelta(minutes=59)).isoformat()
    assert staff.post(RECONCILE, {"since": recent, "settle_seconds": 0}, format="json").status_code == 200


def test_a_sweep_that_could_not_reach_a_service_is_503_with_the_reason(staff, services):
    services.down = "orders"

    response = staff.post(RECONCILE, {"order_ids": [ORDER]}, format="json")

    assert response.status_code == 503
    assert response.json()["error"] == "orders: connection refused"


@pytest.mark.parametrize(
    ("method", "path"), [("get", DIVERGENCES), ("post", RECONCILE)], ids=["divergences", "reconcile"]
)
def test_only_staff_may_use_the_reconciliation_api(django_user_model, services, method, path):
    client = APIClient()
    assert getattr(client, method)(path).status_code == 401

    client.force_authenticate(django_user_model.objects.create_user("customer", password="x"))
    assert getattr(client, method)(path).status_code == 403
    assert not Sweep.objects.exists()


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_staff_member_who_may_only_view_reads_divergences_but_runs_no_sweep(viewer, services, three):
    client = as_user(viewer)

    assert client.get(DIVERGENCES).status_code == 200
    assert (
        client.post(RECONCILE, {"order_ids": [ORDER], "settle_seconds": 0}, format="json").status_code == 403
    )
    assert not Sweep.objects.exists()


def test_support_staff_run_a_sweep_on_demand(support_user, services):
    services.order(ORDER, "completed", "committed", "captured")

    response = as_user(support_user).post(
        RECONCILE, {"order_ids": [ORDER], "settle_seconds": 0}, format="json"
    )

    assert response.status_code == 200, response.content
    assert Sweep.objects.get().triggered_by == "staff API (helper)"


def test_a_staff_member_without_permissions_reads_no_divergence(django_user_model, three):
    nobody = django_user_model.objects.create_user("nobody", password="x", is_staff=True)

    assert as_user(nobody).get(DIVERGENCES).status_code == 403
