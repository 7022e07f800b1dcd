"""The inbox's processed_at and the outbox's created_at indexed by BRIN instead of btree: both are
written in time order and read by range (pruning, ages), and a btree cost an entry per row."""

import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0004_outbox_body_and_dead_letter_notify'),
    ]

    operations = [
        migrations.AlterField(
            model_name='inboxevent',
            name='processed_at',
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AlterField(
            model_name='outboxevent',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AddIndex(
            model_name='inboxevent',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['processed_at'], name='events_inbox_processed'),
        ),
        migrations.AddIndex(
            model_name='outboxevent',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['created_at'], name='events_outbox_created'),
        ),
    ]
