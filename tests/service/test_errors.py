"""Errors Django answers itself, before or around a view: JSON under the APIs (config/errors.py),
and a NUL character in a URL refused before it can reach the database (config/middleware.py)."""

import pytest
from django.conf import settings
from django.test import RequestFactory

from config import errors
from config.middleware import NUL_REFUSED

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
