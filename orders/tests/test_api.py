"""The customer API's contract: what it answers, and that bad input changes nothing."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from config.service_auth import service_authorization
from events.models import OutboxEvent
from orders.models import CatalogProduct, Order, OrderLine, OrderStatusChange
from orders.services import placement
from tests.polling import wait_until

pytestmark = pytest.mark.django_db

ORDER = {"items": [{"sku": "MUG", "quantity": 2}], "payment_token": "tok_visa"}


def nothing_written():
    return not Order.objects.exists() and not OutboxEvent.objects.filter(event_type="OrderCreated").exists()


def test_register_then_get_a_token():
    client = APIClient()

    registered = client.post(
        "/api/v1/auth/register", {"username": "bob", "password": "correct horse"}, format="json"
    )
    token = client.post("/api/v1/auth/token", {"username": "bob", "password": "correct horse"}, format="json")

    assert registered.status_code == 201
    assert token.status_code == 200
    assert token.json()["token"] == registered.json()["token"]


def test_a_client_holding_a_stale_token_can_still_log_in():
    # Schemathesis (docs/hostile-input.md) saw the schema ask for credentials to log in: the view
    # read the Authorization header, so a revoked or mistyped token there made logging in a 401
    client = APIClient()
    client.post("/api/v1/auth/register", {"username": "bob", "password": "correct horse"}, format="json")
    client.credentials(HTTP_AUTHORIZATION="Token revoked-long-ago")

    response = client.post(
        "/api/v1/auth/token", {"username": "bob", "password": "correct horse"}, format="json"
    )

    assert response.status_code == 200
    assert "token" in response.json()


def test_a_taken_username_is_refused():
    client = APIClient()
    client.post("/api/v1/auth/register", {"username": "bob", "password": "correct horse"}, format="json")

    again = client.post(
        "/api/v1/auth/register", {"username": "bob", "password": "another one"}, format="json"
    )

    assert again.status_code == 400
    assert "username" in again.json()


def test_the_catalog_is_public(catalog):
    response = APIClient().get("/api/v1/products")

    assert response.json() == [
        {"sku": "CUP", "name": "Cup", "price": "3.00"},
        {"sku": "MUG", "name": "Mug", "price": "9.50"},
    ]


def test_placing_an_order_answers_202_pending_and_writes_order_created(api, catalog):
    response = api.post("/api/v1/orders", ORDER, format="json")

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["total_amount"]) == ("pending", "19.00")
    assert body["items"] == [{"sku": "MUG", "quantity": 2, "unit_price": "9.50"}]
    created = OutboxEvent.objects.get(event_type="OrderCreated")
    assert created.aggregate_id == body["order_id"]
    assert created.envelope["payload"]["payment_token"] == "tok_visa"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"sku": "NOPE", "quantity": 1}], "payment_token": "tok_visa"}, "items"),
        ({"items": [{"sku": "MUG", "quantity": 0}], "payment_token": "tok_visa"}, "items"),
        ({"items": [{"sku": "MUG", "quantity": 101}], "payment_token": "tok_visa"}, "items"),
        ({"items": [{"sku": "MUG", "quantity": 2.5}], "payment_token": "tok_visa"}, "items"),
        ({"items": [{"sku": "MUG", "quantity": "lots"}], "payment_token": "tok_visa"}, "items"),
        ({"items": [], "payment_token": "tok_visa"}, "items"),
        ({"items": [{"sku": "MUG", "quantity": 1}] * 51, "payment_token": "tok_visa"}, "items"),
        ({"items": "MUG", "payment_token": "tok_visa"}, "items"),
        ({"items": [{"sku": "MUG", "quantity": 1}]}, "payment_token"),
        ({"items": [{"sku": "MUG", "quantity": 1}], "payment_token": "tok_bitcoin"}, "payment_token"),
    ],
)
def test_bad_orders_get_field_level_errors_and_change_nothing(api, catalog, body, field):
    response = api.post("/api/v1/orders", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert nothing_written()


def test_malformed_json_is_a_400_that_changes_nothing(api, catalog):
    response = api.post("/api/v1/orders", data=b'{"items": [', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert nothing_written()


def test_a_form_encoded_order_is_refused_with_415_and_changes_nothing(api, catalog):
    # the APIs take JSON only (REST_FRAMEWORK's parsers), as their schema says
    response = api.post("/api/v1/orders", {"payment_token": "tok_visa"}, format="multipart")

    assert response.status_code == 415
    assert nothing_written()


def test_an_oversized_body_is_refused_with_413(api, catalog):
    response = api.post("/api/v1/orders", data=b"x" * (2 * 1024 * 1024), content_type="application/json")

    assert response.status_code == 413
    assert nothing_written()


def test_orders_need_a_valid_token(catalog):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    assert client.post("/api/v1/orders", ORDER, format="json").status_code == 401
    assert APIClient().get("/api/v1/orders").status_code == 401


def test_the_same_idempotency_key_and_body_return_the_same_order(api, catalog):
    first = api.post("/api/v1/orders", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/orders", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["order_id"] == first.json()["order_id"]
    assert Order.objects.count() == 1
    assert OutboxEvent.objects.filter(event_type="OrderCreated").count() == 1


def test_the_same_idempotency_key_with_another_body_is_422(api, catalog):
    api.post("/api/v1/orders", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = {"items": [{"sku": "CUP", "quantity": 1}], "payment_token": "tok_visa"}

    response = api.post("/api/v1/orders", other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 422
    assert Order.objects.count() == 1


def test_another_customers_order_is_404(api, catalog, django_user_model):
    order_id = api.post("/api/v1/orders", ORDER, format="json").json()["order_id"]
    stranger = APIClient()
    stranger.force_authenticate(django_user_model.objects.create_user("mallory", password="x"))

    assert stranger.get(f"/api/v1/orders/{order_id}").status_code == 404
    assert stranger.post(f"/api/v1/orders/{order_id}/cancel").status_code == 404
    assert stranger.get("/api/v1/orders").json()["count"] == 0


@pytest.mark.parametrize("path", ["/api/v1/orders/null,null", "/api/v1/orders/42/cancel"])
def test_an_order_id_that_is_not_a_uuid_is_a_json_404(api, path):
    # found by Schemathesis (docs/hostile-input.md): no route matches, and Django answered with an
    # HTML page where the schema documents JSON
    response = api.get(path) if path.endswith(",null") else api.post(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert path in response.json()["detail"]


def test_the_customers_orders_are_listed_by_status_and_paginated(api, catalog):
    for _ in range(3):
        api.post("/api/v1/orders", ORDER, format="json")

    everything = api.get("/api/v1/orders?page_size=2").json()
    pending = api.get("/api/v1/orders?status=pending").json()
    bad = api.get("/api/v1/orders?status=lost")

    assert (everything["count"], len(everything["results"])) == (3, 2)
    assert pending["count"] == 3
    assert bad.status_code == 400


def test_cancel_is_202_while_pending_and_409_once_terminal(api, catalog):
    order_id = api.post("/api/v1/orders", ORDER, format="json").json()["order_id"]

    first = api.post(f"/api/v1/orders/{order_id}/cancel")
    second = api.post(f"/api/v1/orders/{order_id}/cancel")

    assert (first.status_code, first.json()["status"]) == (202, "cancelled")
    assert second.status_code == 409
    assert OutboxEvent.objects.filter(event_type="OrderCancelled").count() == 1


def test_placing_an_order_costs_two_statements_and_reads_nothing_back(
    api, catalog, django_assert_num_queries
):
    # the catalog's prices; then the order, its lines, its history and its outbox row in one statement
    with django_assert_num_queries(2):
        assert api.post("/api/v1/orders", ORDER, format="json").status_code == 202


def test_a_placed_order_is_answered_as_reading_it_back_would(api, catalog):
    placed = api.post(
        "/api/v1/orders",
        ORDER | {"items": [{"sku": "MUG", "quantity": 2}, {"sku": "CUP", "quantity": 1}]},
        format="json",
    ).json()

    read = api.get(f"/api/v1/orders/{placed['order_id']}").json()

    assert placed == read
    assert OrderLine.objects.filter(order_id=placed["order_id"]).count() == 2
    assert OrderStatusChange.objects.filter(order_id=placed["order_id"]).count() == 1


def test_a_reused_idempotency_key_writes_no_line_history_or_event(api, catalog):
    api.post("/api/v1/orders", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    api.post("/api/v1/orders", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (OrderLine.objects.count(), OrderStatusChange.objects.count()) == (1, 1)
    assert OutboxEvent.objects.filter(event_type="OrderCreated").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_sent_while_the_first_with_its_key_is_written_waits_and_gets_that_order(
    api, customer, catalog
):
    # given another connection writing an order under the key, its transaction not yet committed
    other = connections.create_connection("default")
    first_id = "00000000-0000-4000-8000-0000000000aa"
    fingerprint = placement.request_fingerprint(ORDER)
    with other.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(
            "INSERT INTO orders_order (order_id, customer_id, status, total_amount, currency, failure_reason,"
            " version, idempotency_key, request_fingerprint, created_at, updated_at)"
            " VALUES (%s, %s, 'pending', 19, 'EUR', '', 1, 'k-busy', %s, now(), now())",
            [first_id, customer.pk, fingerprint],
        )
    answers = []

    def send():
        try:
            answers.append(api.post("/api/v1/orders", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k-busy"))
        finally:
            connections.close_all()  # this thread's own connection

    request = threading.Thread(target=send)
    try:
        # when the request comes while that write is open
        request.start()
        wait_until(_a_request_waits_for_a_lock, timeout=10, message="the request to wait for the key")
        assert answers == []
        with other.cursor() as cursor:
            cursor.execute("COMMIT")
        request.join(10)
    finally:
        other.close()

    # then it waited for the first write and answers with that order, writing nothing of its own
    assert answers[0].status_code == 202
    assert answers[0].json()["order_id"] == first_id
    assert Order.objects.count() == 1
    assert not OutboxEvent.objects.filter(event_type="OrderCreated").exists()  # the first wrote none here


def _a_request_waits_for_a_lock() -> bool:
    with connections["default"].cursor() as cursor:  # outside `other`'s transaction: fresh statistics
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


# The state API reads in a transaction of its own (REPEATABLE READ), so the test's data is committed.
@pytest.mark.django_db(transaction=True)
def test_the_internal_state_api_pages_a_window_by_change_then_order_id(api, catalog):
    # Given five orders changed in the window, four of them at one instant (one transaction's now())
    ids = [api.post("/api/v1/orders", ORDER, format="json").data["order_id"] for _ in range(5)]
    instant = timezone.now()
    Order.objects.filter(order_id__in=ids[1:]).update(updated_at=instant)
    Order.objects.filter(order_id=ids[0]).update(updated_at=instant - timedelta(seconds=1))
    service = APIClient(HTTP_AUTHORIZATION=service_authorization("reconciliation"))
    query = {"since": (instant - timedelta(seconds=5)).isoformat(), "limit": 2, "products": False}

    # When the reconciliation service reads the window two records at a time, each page from
    # where the one before ended
    pages = []
    for _ in range(5):  # three pages hold it; a paging that repeats itself would go on
        page = service.post("/internal/v1/state", query, format="json").json()["orders"]
        pages.append([r["order_id"] for r in page])
        if len(page) < 2:
            break
        query |= {"since": page[-1]["updated_at"], "after_order_id": page[-1]["order_id"]}

    # Then it has read every order once, the oldest change first, the instant's by order id
    assert pages == [[ids[0], min(ids[1:])], sorted(ids[1:])[1:3], sorted(ids[1:])[3:]]


def test_cancelling_an_order_reads_it_once_to_lock_it_and_once_for_the_answer(
    api, catalog, django_assert_num_queries
):
    order_id = api.post("/api/v1/orders", ORDER, format="json").json()["order_id"]

    # the locked read, the update, the history row and the outbox row (in a transaction's
    # savepoint: the test's own transaction is around it); then the order, its lines and its
    # history for the answer
    with django_assert_num_queries(9):
        assert api.post(f"/api/v1/orders/{order_id}/cancel").status_code == 202


@pytest.mark.django_db(transaction=True)
def test_the_internal_state_api_names_the_customer_as_the_orders_events_do(api, catalog, customer):
    # reconciliation learns an order from OrderCreated or from this API (a sweep's repair): both
    # must name its customer by the same id
    order_id = api.post("/api/v1/orders", ORDER, format="json").data["order_id"]
    service = APIClient(HTTP_AUTHORIZATION=service_authorization("reconciliation"))
    query = {"since": (timezone.now() - timedelta(minutes=1)).isoformat(), "products": False}

    [record] = service.post("/internal/v1/state", query, format="json").json()["orders"]
    created = OutboxEvent.objects.get(event_type="OrderCreated").envelope["payload"]

    assert record["order_id"] == order_id
    assert record["customer"] == created["customer_id"] == str(customer.pk)


@pytest.mark.parametrize(
    ("price", "quantity", "total"),
    [
        ("0.00", 1, "0.00"),
        ("0.10", 4, "0.40"),
        ("999999.99", 2, "1999999.98"),
        ("9999999999.99", 100, "999999999999.00"),
    ],
    ids=["zero", "below-the-card-minimum", "above-the-card-maximum", "past-the-columns"],
)
def test_an_order_whose_total_no_card_can_pay_is_refused_with_400_and_nothing_written(
    api, price, quantity, total
):
    # given a product at that price
    CatalogProduct.objects.create(sku="ODD", name="Odd", price=Decimal(price), version=1)

    # when
    response = api.post(
        "/api/v1/orders",
        {"items": [{"sku": "ODD", "quantity": quantity}], "payment_token": "tok_visa"},
        format="json",
    )

    # then
    assert response.status_code == 400
    assert response.json()["items"] == [
        f"the order's total, {total} EUR, must be from 0.50 to 999999.99 EUR to be paid by card"
    ]
    assert nothing_written()
