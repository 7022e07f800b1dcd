"""New orders get time-ordered ids (UUIDv7, events/ids.py); the ones already made keep theirs."""

import events.ids
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0002_timeout_schedule'),
    ]

    operations = [
        migrations.AlterField(
            model_name='order',
            name='order_id',
            field=models.UUIDField(default=events.ids.new_id, editable=False, primary_key=True, serialize=False),
        ),
    ]
