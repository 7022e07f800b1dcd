"""Every admin page of the service renders for a superuser: a smoke test per registered model."""

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db


def registered_models():
    return list(admin.site._registry)


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_the_changelist_renders(admin_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    assert admin_client.get(url).status_code == 200


# The tables a person may add rows to by hand; every other one is a ledger, or changes only
# through its service's code (events, actions), and its add page refuses even a superuser.
HAND_MADE = {
    "auth.Group",
    "auth.User",
    "authtoken.TokenProxy",
    "django_celery_beat.ClockedSchedule",
    "django_celery_beat.CrontabSchedule",
    "django_celery_beat.IntervalSchedule",
    "django_celery_beat.PeriodicTask",
    "django_celery_beat.SolarSchedule",
    "inventory.Product",  # through the admin's form, an audited stock change (inventory/admin.py)
}


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_the_add_page_renders_for_a_hand_made_table_and_refuses_every_other(admin_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")

    assert admin_client.get(url).status_code == (200 if model._meta.label in HAND_MADE else 403)
