"""The rule policies' defaults, and the sweep on django-celery-beat (every 60 s; both editable in
the admin).

Automatic by default: the fixes that only do what the saga itself would have done (refund a
payment or release stock of an order that did not complete, commit stock of one that did, fail a
stuck order, recount a drifted counter, send lost events again). Left to a person: what needs
judgement or money moved by hand (an order completed unpaid, a wrong amount, stock that is
physically wrong).
"""

from django.db import migrations

SWEEP = "reconciliation: sweep"
AUTOMATIC = {
    "charged_not_completed",
    "held_for_ended_order",
    "committed_not_completed",
    "completed_not_committed",
    "stuck_order",
    "reserved_count_mismatch",
    "event_gap",
}
KINDS = (
    "completed_unpaid",
    "amount_mismatch",
    "charged_not_completed",
    "held_for_ended_order",
    "committed_not_completed",
    "completed_not_committed",
    "stuck_order",
    "negative_stock",
    "reserved_above_stock",
    "reserved_count_mismatch",
    "event_gap",
)
# An order pending this long is a stuck saga: after the orders service's own timeout (120 s)
# should have failed it.
STUCK_SLA_SECONDS = 300


def create(apps, schema_editor):
    RulePolicy = apps.get_model("reconciliation", "RulePolicy")
    for kind in KINDS:
        RulePolicy.objects.get_or_create(
            kind=kind,
            defaults={
                "automatic": kind in AUTOMATIC,
                "threshold_seconds": STUCK_SLA_SECONDS if kind == "stuck_order" else 0,
            },
        )
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=SWEEP, defaults={"task": "reconciliation.tasks.reconciliation_sweep", "interval": every}
    )


def delete(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP).delete()
    apps.get_model("reconciliation", "RulePolicy").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, delete)]
