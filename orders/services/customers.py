"""Customers: registering one, with the API token it signs in with."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token


class UsernameTaken(Exception):
    """Another customer (or staff member) has this username."""


def customer_register(*, username: str, password: str) -> Token:
    """Create the customer and their API token together, or neither (a taken username raises
    UsernameTaken). The password was validated by the caller against Django's validators."""
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(username=username, password=password)
            return Token.objects.create(user=user)
    except IntegrityError:
        raise UsernameTaken(username) from None
