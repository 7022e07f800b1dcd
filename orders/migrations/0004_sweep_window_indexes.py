"""A BRIN index of updated_at, for the reconciliation sweep's window of changed records (it was
a scan of the whole table every minute)."""

import django.contrib.postgres.indexes
from django.conf import settings
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0003_time_ordered_ids'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='order',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['updated_at'], name='orders_order_updated'),
        ),
    ]
