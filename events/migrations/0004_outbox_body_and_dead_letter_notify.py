"""The outbox keeps each envelope as the bytes the relay publishes (text, not jsonb, so nothing
parses and re-serialises it on the way out), with its schema version in a column for the
message's headers; and every change to the dead letters is announced (NOTIFY events_deadletter,
delivered on commit), so a consumer keeps its set of parked aggregates in memory and reloads it
only when it changed."""

from django.db import migrations, models

DEAD_LETTER_NOTIFY = """
CREATE FUNCTION events_deadletter_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('events_deadletter', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_deadletter_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON events_deadletter
    FOR EACH STATEMENT EXECUTE FUNCTION events_deadletter_notify();
"""

DROP_DEAD_LETTER_NOTIFY = """
DROP TRIGGER IF EXISTS events_deadletter_notify ON events_deadletter;
DROP FUNCTION IF EXISTS events_deadletter_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0003_prune_schedules")]

    operations = [
        migrations.RenameField("outboxevent", "envelope", "body"),
        migrations.AlterField("outboxevent", "body", models.TextField()),
        migrations.AddField("outboxevent", "event_version", models.PositiveSmallIntegerField(default=1)),
        migrations.RunSQL(
            "UPDATE events_outboxevent SET event_version = (body::jsonb ->> 'version')::smallint",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(DEAD_LETTER_NOTIFY, DROP_DEAD_LETTER_NOTIFY),
    ]
