"""Payments' created_at indexed by BRIN instead of btree (written in time order, read by range)."""

import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='payment',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AddIndex(
            model_name='payment',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['created_at'], name='payments_payment_created'),
        ),
    ]
