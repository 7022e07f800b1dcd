"""Each service publishes a valid OpenAPI 3 schema, and Swagger UI served from its own files."""

import re

import pytest
from django.conf import settings
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_is_generated_without_a_warning_and_validates(tmp_path):
    # --fail-on-warn: a view the generator cannot describe fails the build
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "openapi: 3" in (tmp_path / "schema.yaml").read_text()


def test_the_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == f"{settings.SERVICE_NAME.capitalize()} service API"


def test_swagger_ui_is_served_without_any_cdn(client):
    page = client.get("/api/docs/").content.decode()

    # every script and stylesheet it loads is the service's own (a page's random CSRF token may
    # well spell "cdn", so the test reads the addresses, not the text)
    loaded = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page)
    assert "swagger-ui" in page
    assert loaded and all(url.startswith("/static/") for url in loaded), loaded
    assert "/static/drf_spectacular_sidecar/" in page


def schema(client) -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations(client):
    for path, item in schema(client)["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_documents_the_errors_answered_before_its_view(client):
    # the middleware and Django answer 400, gunicorn 414, DRF 401 and 403, the middleware 503 when
    # the database does not answer: config/openapi.py
    everything = list(operations(client))
    secured = [(name, op) for name, op in everything if {} not in op.get("security", [{}])]

    assert secured
    for name, operation in everything:
        assert {"400", "414", "503"} <= operation["responses"].keys(), name
    for name, operation in secured:
        assert {"401", "403"} <= operation["responses"].keys(), name


def test_request_bodies_are_json_only(client):
    # the only parser the APIs have: a form-encoded body gets 415, so the schema offers none
    for name, operation in operations(client):
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"], name
