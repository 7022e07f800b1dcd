"""New payments get time-ordered ids (UUIDv7, events/ids.py); the ones already made keep theirs."""

import events.ids
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0002_brin_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='payment',
            name='payment_id',
            field=models.UUIDField(default=events.ids.new_id, editable=False, primary_key=True, serialize=False),
        ),
    ]
