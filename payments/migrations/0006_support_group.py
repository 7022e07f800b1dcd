from django.db import migrations

from config.support import support_group_grant


def grant(apps, schema_editor):
    support_group_grant(apps, schema_editor, viewed=["payments", "events"], granted=["payments.refund_payment", "events.change_deadletter"])


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_custom_permissions"),
        ("events", "0008_pipeline_stage_backlog_grew"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
