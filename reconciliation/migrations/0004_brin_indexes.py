"""Saga steps: received_at indexed by BRIN (steps are only inserted, in time order), and no index
of the saga foreign key of its own (recon_step_stream, which starts with it, serves every lookup)."""

import django.contrib.postgres.indexes
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reconciliation', '0003_projection_hot_updates'),
    ]

    operations = [
        migrations.AlterField(
            model_name='sagastep',
            name='received_at',
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AlterField(
            model_name='sagastep',
            name='saga',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='steps', to='reconciliation.ordersaga'),
        ),
        migrations.AddIndex(
            model_name='sagastep',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['received_at'], name='recon_step_received'),
        ),
    ]
