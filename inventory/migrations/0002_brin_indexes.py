"""Reservations' and stock movements' created_at indexed by BRIN instead of btree (written in time
order, read by range; a btree cost an entry per row)."""

import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='reservation',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AlterField(
            model_name='stockmovement',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AddIndex(
            model_name='reservation',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['created_at'], name='inventory_reservation_created'),
        ),
        migrations.AddIndex(
            model_name='stockmovement',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['created_at'], name='inventory_movement_created'),
        ),
    ]
