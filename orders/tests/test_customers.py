"""Registering a customer (orders/services/customers.py): the user and their token together."""

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from rest_framework.authtoken.models import Token

from orders.services import customers

pytestmark = pytest.mark.django_db


def test_a_registered_customer_has_a_token_that_is_theirs():
    token = customers.customer_register(username="carol", password="a long passphrase")

    assert Token.objects.get(key=token.key).user.username == "carol"


def test_a_customer_whose_token_could_not_be_made_is_not_left_without_one(monkeypatch):
    def fail(**kwargs):
        raise DatabaseError("the connection broke")

    monkeypatch.setattr(Token.objects, "create", fail)

    with pytest.raises(DatabaseError):
        customers.customer_register(username="carol", password="a long passphrase")

    assert not get_user_model().objects.filter(username="carol").exists()


def test_a_taken_username_is_refused_and_the_first_customer_kept():
    first = customers.customer_register(username="carol", password="a long passphrase")

    with pytest.raises(customers.UsernameTaken):
        customers.customer_register(username="carol", password="another passphrase")

    assert list(Token.objects.values_list("key", flat=True)) == [first.key]
