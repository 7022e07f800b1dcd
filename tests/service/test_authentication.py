"""API tokens: checked against the database once, then remembered for a while in the process."""

import time

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from config.authentication import CachedTokenAuthentication

pytestmark = pytest.mark.django_db


def authenticate(key: str):
    request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}"))
    return CachedTokenAuthentication().authenticate(request)


@pytest.fixture
def token(django_user_model) -> Token:
    return Token.objects.create(user=django_user_model.objects.create_user("carol", password="x"))


def test_a_token_is_read_from_the_database_once_then_from_memory(token, django_assert_num_queries):
    with django_assert_num_queries(1):
        first_user, _ = authenticate(token.key)
    with django_assert_num_queries(0):
        second_user, _ = authenticate(token.key)

    assert first_user.pk == second_user.pk == token.user_id
    assert first_user is not second_user  # each request its own copy of the user


def test_an_unknown_token_is_refused_and_looked_up_every_time(django_assert_num_queries):
    for _ in range(2):
        with django_assert_num_queries(1), pytest.raises(AuthenticationFailed):
            authenticate("no-such-token")


def test_a_deleted_token_works_until_the_cache_forgets_it_then_is_refused(token, monkeypatch):
    key = token.key
    authenticate(key)
    token.delete()
    assert authenticate(key)[0].username == "carol"  # the documented delay

    later = time.monotonic() + settings.AUTH_TOKEN_CACHE_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)

    with pytest.raises(AuthenticationFailed):
        authenticate(key)


def test_a_service_whose_key_is_set_empty_is_not_let_in_by_sending_none(client, settings):
    # given a key configured empty (a deploy that forgot to fill it in)
    settings.INTERNAL_API_KEYS = {"reconciliation": ""}

    # when a caller sends that name and no secret
    response = client.get("/internal/v1/backlog", HTTP_AUTHORIZATION="Service reconciliation:")

    # then it is refused
    assert response.status_code in (401, 403)
    assert "wrong secret" in response.json()["detail"]
