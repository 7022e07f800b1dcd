"""NOTIFY the relay once per transaction that writes to the outbox (delivered on commit)."""

from django.db import migrations

CREATE = """
CREATE FUNCTION events_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('events_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_outbox_notify AFTER INSERT ON events_outboxevent
    FOR EACH STATEMENT EXECUTE FUNCTION events_outbox_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS events_outbox_notify ON events_outboxevent;
DROP FUNCTION IF EXISTS events_outbox_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
