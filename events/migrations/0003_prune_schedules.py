"""Daily pruning of the outbox and inbox, as django-celery-beat schedules (editable in the admin)."""

from django.db import migrations

TASKS = {
    "events: prune published outbox rows": ("events.tasks.outbox_prune", "15"),
    "events: prune old inbox rows": ("events.tasks.inbox_prune", "45"),
}


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, minute) in TASKS.items():
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
        )
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": crontab})


def delete_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=TASKS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_outbox_notify"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
