"""The `support` group, which each service's migrations create in its own database: the staff
who answer customers and repair divergent data. It may view every table of the service in its
admin and staff API and take the support actions (cancel an order, refund a payment, release a
reservation, retry or discard a dead letter, resolve a divergence, re-drive a saga, run a
sweep); it may not edit products or reconciliation's policies (docs/operations.md, "Who may do
what")."""

from django.contrib.auth.management import create_permissions

GROUP = "support"


def support_group_grant(apps, schema_editor, *, viewed: list[str], granted: list[str]) -> None:
    """Give the support group (created if missing) view on every model of the `viewed` apps and
    the `granted` permissions ("app_label.codename"). For a migration's RunPython."""
    alias = schema_editor.connection.alias
    for label in {*viewed, *(permission.split(".")[0] for permission in granted)}:
        # Django creates permissions after the last migration (post_migrate); a migration that
        # grants them must create them first. create_permissions skips an app without models.
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=alias)
        app_config.models_module = None
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    permissions = Permission.objects.using(alias)
    group, _ = Group.objects.using(alias).get_or_create(name=GROUP)
    group.permissions.add(
        *permissions.filter(content_type__app_label__in=viewed, codename__startswith="view_"),
        *(
            permissions.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in (permission.split(".") for permission in granted)
        ),
    )
