"""Taking an admin action as a given user, as the admin's change list sends it."""

from django.urls import reverse


def admin_action(client, user, obj, action: str, *, data: dict | None = None, **kwargs):
    """POST `action` on `obj` to its model's change list, logged in as `user`, with the form's
    own fields in `data` (an intermediate page's, such as a reason)."""
    client.force_login(user)
    meta = obj._meta
    return client.post(
        reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        {"action": action, "_selected_action": [obj.pk], **(data or {})},
        **kwargs,
    )


def change_page(client, obj) -> str:
    """The admin page of `obj` as `client` sees it (it must render): its HTML."""
    meta = obj._meta
    page = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
    assert page.status_code == 200
    return page.content.decode()
