"""The projection's sagas are updated with every event: the columns that change each time
(last_event_at, updated_at) lose their indexes, and the table keeps a fifth of each page free,
so an update that changes no indexed column is a HOT update (no index entry written). The sweep
finds the orders that changed through their steps' arrival (received_at, indexed; steps are
only inserted) instead of the sagas' updated_at."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reconciliation', '0002_policies_and_schedule'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='ordersaga',
            options={'ordering': ['-created_at'], 'verbose_name': 'order saga'},
        ),
        migrations.AlterField(
            model_name='ordersaga',
            name='last_event_at',
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name='ordersaga',
            name='updated_at',
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AlterField(
            model_name='sagastep',
            name='received_at',
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
        migrations.RunSQL(
            "ALTER TABLE reconciliation_ordersaga SET (fillfactor = 80)",
            "ALTER TABLE reconciliation_ordersaga RESET (fillfactor)",
        ),
    ]
