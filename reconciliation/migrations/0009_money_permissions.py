from django.db import migrations

from config.support import support_group_grant


def grant(apps, schema_editor):
    # The support group keeps the two actions it took under `change` before.
    support_group_grant(
        apps,
        schema_editor,
        viewed=["reconciliation"],
        granted=["reconciliation.fix_divergence", "reconciliation.fail_ordersaga"],
    )


class Migration(migrations.Migration):
    dependencies = [("reconciliation", "0008_money_permissions_options")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
