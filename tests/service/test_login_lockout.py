"""Password guessing on the admin's login is locked out (django-axes): after AXES_FAILURE_LIMIT
failures of one username from one address, that pair is refused whatever the password, while the
same staff member from another address, and other usernames, still log in."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

GUESSER, COLLEAGUE = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("support", password="right horse battery", is_staff=True)


def log_in(address: str, username: str, password: str):
    client = Client(REMOTE_ADDR=address)
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    return response, client


def logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_the_right_password_after_the_limit_of_wrong_ones_is_refused(staff):
    # given as many wrong guesses at one staff account from one address as the limit (the form
    # again with its error each time, and the last one locks the pair out)
    answers = [
        log_in(GUESSER, "support", f"guess {n}")[0].status_code for n in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    # when the right password comes from that address
    response, client = log_in(GUESSER, "support", "right horse battery")

    # then it is refused as locked out, and nobody is logged in
    assert response.status_code == 429
    assert "locked" in response.content.decode().lower()
    assert not logged_in(client)


def test_a_lockout_holds_one_username_from_one_address_only(staff, django_user_model):
    django_user_model.objects.create_user("other", password="another horse battery", is_staff=True)
    for guess in range(settings.AXES_FAILURE_LIMIT):
        log_in(GUESSER, "support", f"guess {guess}")

    # the same staff member from elsewhere, and another one from the guesser's address, log in
    assert logged_in(log_in(COLLEAGUE, "support", "right horse battery")[1])
    assert logged_in(log_in(GUESSER, "other", "another horse battery")[1])


def test_a_forged_forwarded_address_does_not_reset_the_count(staff):
    for guess in range(settings.AXES_FAILURE_LIMIT):
        client = Client(REMOTE_ADDR=GUESSER, HTTP_X_FORWARDED_FOR=f"192.0.2.{guess}")
        client.post("/admin/login/", {"username": "support", "password": f"guess {guess}"})

    response, _ = log_in(GUESSER, "support", "right horse battery")

    assert response.status_code == 429
    assert AccessAttempt.objects.get(username="support").ip_address == GUESSER


def test_a_login_under_the_limit_clears_the_count(staff):
    for guess in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(GUESSER, "support", f"guess {guess}")

    assert logged_in(log_in(GUESSER, "support", "right horse battery")[1])
    # and the next wrong guess starts a new count: one more is not yet a lockout
    log_in(GUESSER, "support", "one more guess")
    assert logged_in(log_in(GUESSER, "support", "right horse battery")[1])
