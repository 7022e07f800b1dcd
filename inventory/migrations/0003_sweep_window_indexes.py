"""A BRIN index of updated_at, for the reconciliation sweep's window of changed records (it was
a scan of the whole table every minute)."""

import django.contrib.postgres.indexes
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0002_brin_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='reservation',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['updated_at'], name='inventory_reservation_updated'),
        ),
    ]
