from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_pipeline_stage"),
    ]

    operations = [
        migrations.AddField(
            model_name="pipelinestage",
            name="drain_per_second",
            field=models.FloatField(db_default=0, default=0),
        ),
    ]
