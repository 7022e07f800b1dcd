"""Every admin action and staff API of the service asks a permission. A staff member who may
only view is offered no action and changes nothing; the `support` group, created by the
service's migrations, is offered every action but deleting, except on the periodic tasks
(config/support.py)."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

pytestmark = pytest.mark.django_db

MODELS = list(admin.site._registry)


def offered(user) -> dict[str, set[str]]:
    """The actions the admin offers `user`, by model, for the models that declare any."""
    request = RequestFactory().get("/admin/")
    request.user = user
    return {
        model._meta.label: set(model_admin.get_actions(request)) - {"delete_selected"}
        for model, model_admin in admin.site._registry.items()
        if model_admin.actions
    }


def test_a_staff_member_who_may_only_view_is_offered_no_action(viewer):
    assert all(actions == set() for actions in offered(viewer).values()), offered(viewer)


def test_the_support_group_is_offered_every_action_but_deleting_except_on_periodic_tasks(
    support_user, admin_user
):
    support, everything = offered(support_user), offered(admin_user)

    assert support.pop("django_celery_beat.PeriodicTask") == set()  # the operators' schedule
    assert support == {label: actions for label, actions in everything.items() if label in support}
    assert support["events.DeadLetter"] == {"retry", "discard"}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_a_staff_member_who_may_only_view_can_look_at_every_table(client, viewer, model):
    client.force_login(viewer)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    assert client.get(url).status_code == 200


def test_a_staff_member_without_permissions_sees_no_table(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x", is_staff=True))
    model = MODELS[0]
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    assert client.get(url).status_code == 403
