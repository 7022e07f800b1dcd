from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from orders.models import CatalogProduct


@pytest.fixture
def catalog(db):
    CatalogProduct.objects.create(sku="MUG", name="Mug", price=Decimal("9.50"), version=1)
    CatalogProduct.objects.create(sku="CUP", name="Cup", price=Decimal("3.00"), version=1)


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user("alice", password="correct horse")


@pytest.fixture
def api(customer):
    client = APIClient()
    client.force_authenticate(customer)
    return client
