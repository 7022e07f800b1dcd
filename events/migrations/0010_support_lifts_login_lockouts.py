from django.db import migrations

from config.support import support_group_grant


def grant(apps, schema_editor):
    # Support answers the staff and customers who locked themselves out: it sees the failed
    # logins and lifts a lockout (deletes its attempt), in every service.
    support_group_grant(apps, schema_editor, viewed=["axes"], granted=["axes.delete_accessattempt"])


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0009_dead_letters_waiting_for_an_upgrade"),
        ("axes", "0010_accessattemptexpiration"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
