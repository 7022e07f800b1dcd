"""Errors Django answers itself, before or around a view: JSON under the APIs (config/errors.py),
a NUL character in a URL refused before it can reach the database, and a database that did not
answer reported as a 503 to retry (config/middleware.py)."""

import json
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory

from config import errors
from config.middleware import DATABASE_UNAVAILABLE, NUL_REFUSED, DatabaseUnavailableMiddleware
from config.parsers import HOLDS_NUL, TOO_DEEP
from config.service_auth import service_authorization

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/v1/no-such-thing", "/internal/v1/no-such-thing"])
def test_an_api_url_that_no_route_matches_is_a_json_404(client, url):
    response = client.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert url in response.json()["detail"]


def test_other_urls_keep_djangos_html_404(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_request_django_finds_suspicious_is_a_json_400_under_the_api(client):
    # given more query parameters than Django reads
    query = "&".join(f"p{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    # when
    response = client.get(f"/api/v1/anything?{query}")

    # then
    assert response.status_code == 400
    assert "TooManyFieldsSent" in response.json()["detail"]


def test_an_unhandled_error_is_a_json_500_under_the_api_and_a_page_elsewhere():
    api = errors.server_error(RequestFactory().get("/api/v1/anything"))
    admin = errors.server_error(RequestFactory().get("/admin/"))

    assert (api.status_code, api["Content-Type"]) == (500, "application/json")
    assert "detail" in api.content.decode()
    assert admin.status_code == 500
    assert admin["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/a%00b",  # in the path
        "/api/v1/anything?q=a%00b",  # in a parameter's value
        "/internal/v1/backlog?a%00=1",  # in a parameter's name
        "/admin/?q=%00",  # the admin too
    ],
)
def test_a_nul_character_anywhere_in_the_url_is_a_400_before_any_view(client, url):
    response = client.get(url)

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_REFUSED}


def _failing_with(exception):
    def view(request):
        raise exception

    return view


@pytest.mark.parametrize(
    "exception",
    [
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
    ],
)
def test_an_api_request_whose_database_did_not_answer_is_a_503_to_retry(exception):
    middleware = DatabaseUnavailableMiddleware(_failing_with(exception))
    request = RequestFactory().post("/api/v1/orders")

    response = middleware.process_exception(request, exception)

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert json.loads(response.content) == {"detail": DATABASE_UNAVAILABLE}


def test_other_errors_and_pages_outside_the_api_are_left_to_django():
    middleware = DatabaseUnavailableMiddleware(_failing_with(ValueError()))

    assert middleware.process_exception(RequestFactory().get("/api/v1/orders"), ValueError("bug")) is None
    assert middleware.process_exception(RequestFactory().get("/admin/"), OperationalError("down")) is None


def test_every_service_runs_the_database_unavailable_middleware():
    assert "config.middleware.DatabaseUnavailableMiddleware" in settings.MIDDLEWARE


def json_operations(client):
    """(method, path) of every operation that takes a JSON body, its path parameters filled in."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                yield method, re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)


def authorised(client, path: str) -> dict:
    """The headers that take a request to `path` past authentication and permissions: a service's
    key for the internal API, a superuser's session for the rest."""
    if path.startswith("/internal/"):
        return {"HTTP_AUTHORIZATION": service_authorization(next(iter(settings.INTERNAL_API_KEYS)))}
    client.force_login(get_user_model().objects.create_superuser("root", password="x" * 20))
    return {}


HOSTILE_BODIES = {
    "nested-100000": (b"[" * 100_000 + b"]" * 100_000, TOO_DEEP),
    "nested-33-in-an-object": (b'{"items": ' + b"[" * 33 + b"]" * 33 + b"}", TOO_DEEP),
    "nul-in-a-string": (
        b'{"items": [{"sku": "MUG\\u0000", "quantity": 1}], "order_ids": ["a\\u0000"]}',
        HOLDS_NUL,
    ),
    "nul-in-a-key": (b'{"\\u0000": 1}', HOLDS_NUL),
}


@pytest.mark.parametrize("hostile", HOSTILE_BODIES)
def test_every_json_endpoint_answers_a_hostile_body_with_a_400_that_says_why(client, hostile):
    # given: every operation of this service that reads a JSON body, called as someone allowed to
    body, reason = HOSTILE_BODIES[hostile]
    endpoints = list(json_operations(client))
    assert endpoints

    for method, path in endpoints:
        headers = authorised(client, path)

        # when
        response = getattr(client, method)(path, data=body, content_type="application/json", **headers)

        # then
        assert response.status_code == 400, (method, path, response.status_code, response.content[:200])
        assert response.json()["detail"] == reason, (method, path)
        get_user_model().objects.filter(username="root").delete()
