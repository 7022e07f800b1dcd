"""The doors anyone may knock at: register and token are rate-limited per client address (429
with Retry-After), register refuses weak passwords, and the customer token is for customers."""

import pytest
from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config import throttling

pytestmark = pytest.mark.django_db

REGISTER, TOKEN = "/api/v1/auth/register", "/api/v1/auth/token"


@pytest.fixture
def rates(monkeypatch):
    """The limits the tests knock against (DRF binds the rates when the throttle is defined)."""
    monkeypatch.setattr(
        throttling.ScopedRateThrottle, "THROTTLE_RATES", {"register": "2/hour", "token": "3/minute"}
    )


def register(client, username, password="correct horse", **headers):
    return client.post(REGISTER, {"username": username, "password": password}, format="json", **headers)


def test_registering_is_limited_per_address_with_retry_after(rates, django_user_model):
    client = APIClient()

    answers = [register(client, f"user{i}").status_code for i in range(3)]
    refused = register(client, "user3")

    assert answers == [201, 201, 429]
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "throttled" in refused.json()["detail"].lower()
    assert django_user_model.objects.count() == 2  # nothing written past the limit
    # another address is counted on its own
    assert register(APIClient(REMOTE_ADDR="10.0.0.2"), "user4").status_code == 201


def test_a_forged_x_forwarded_for_does_not_make_another_client(rates, django_user_model):
    # given one caller writing a new X-Forwarded-For on every request, as anybody can
    client = APIClient()

    answers = [
        register(client, f"user{i}", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(3)
    ]

    # then it is counted by the address it connects from
    assert answers == [201, 201, 429]
    assert django_user_model.objects.count() == 2


def test_behind_a_proxy_of_ours_the_forwarded_address_is_the_client(settings, rates):
    # given the service behind one proxy it trusts, which appends the client's address
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()

    got = [
        register(client, f"proxied{i}", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(3)
    ]

    # then three clients behind it are three addresses
    assert got == [201, 201, 201]


def test_signing_in_is_limited_per_address_right_or_wrong(rates):
    register(APIClient(REMOTE_ADDR="10.0.0.9"), "bob")
    client = APIClient()

    answers = [
        client.post(TOKEN, {"username": "bob", "password": password}, format="json").status_code
        for password in ["wrong one", "wrong two", "correct horse", "correct horse"]
    ]

    assert answers == [400, 400, 200, 429]


def test_a_cache_that_does_not_answer_lets_the_request_through(rates, monkeypatch):
    def down(*args, **kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(cache, "get", down)

    assert [register(APIClient(), f"u{i}").status_code for i in range(3)] == [201, 201, 201]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "Ensure this field has at least 8 characters."),  # the schema says so too
        ("password123", "This password is too common."),
        ("4815162342", "This password is entirely numeric."),
        ("margaret-h", "The password is too similar to the username."),
    ],
)
def test_register_refuses_a_weak_password_and_says_why(django_user_model, password, message):
    response = register(APIClient(), "margaret-h", password)

    assert response.status_code == 400
    assert message in response.json()["password"]
    assert not django_user_model.objects.exists()


@pytest.mark.parametrize("kind", ["staff", "superuser"])
def test_the_customer_token_is_not_issued_to_staff_and_the_answer_tells_no_guesser_it_was_right(
    django_user_model, kind
):
    if kind == "superuser":
        django_user_model.objects.create_superuser("root", password="correct horse")
    else:
        django_user_model.objects.create_user("root", password="correct horse", is_staff=True)

    right = APIClient().post(TOKEN, {"username": "root", "password": "correct horse"}, format="json")
    wrong = APIClient(REMOTE_ADDR="10.0.0.3").post(
        TOKEN, {"username": "root", "password": "not it at all"}, format="json"
    )

    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json())
    assert right.status_code == 400
    assert not Token.objects.exists()


def test_the_token_endpoint_is_locked_out_for_a_guessed_account_and_says_so(django_user_model, settings):
    # given as many wrong passwords for one customer from one address as the login lockout's limit
    django_user_model.objects.create_user("margaret", password="correct horse")
    guesser = APIClient(REMOTE_ADDR="10.0.0.9")
    for guess in range(settings.AXES_FAILURE_LIMIT):
        guesser.post(TOKEN, {"username": "margaret", "password": f"guess {guess}"}, format="json")

    # when the right one comes from there, then it is refused, no token issued; from elsewhere it works
    locked = guesser.post(TOKEN, {"username": "margaret", "password": "correct horse"}, format="json")
    elsewhere = APIClient(REMOTE_ADDR="10.0.0.10").post(
        TOKEN, {"username": "margaret", "password": "correct horse"}, format="json"
    )

    assert locked.status_code == 429, locked.content
    assert "locked" in locked.content.decode().lower()
    assert "token" not in locked.json()
    assert elsewhere.status_code == 200 and elsewhere.json()["token"]
