"""A BRIN index of updated_at, for the reconciliation sweep's window of changed records (it was
a scan of the whole table every minute)."""

import django.contrib.postgres.indexes
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0003_time_ordered_ids'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='payment',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['updated_at'], name='payments_payment_updated'),
        ),
    ]
