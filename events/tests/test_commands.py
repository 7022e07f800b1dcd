"""The events app's management commands: arguments, errors a person can act on, effects."""

import os
import signal
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import connection, transaction

from events import publishing
from events.models import OutboxEvent
from events.tests import support
from tests.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_consume_names_the_services_consumers_when_asked_for_an_unknown_one():
    with pytest.raises(
        CommandError, match=r"no consumer 'nope' in the orders service \(its consumers: orders\)"
    ):
        call_command("consume", consumer="nope")


@pytest.mark.django_db
def test_republish_outbox_needs_an_aggregate_or_a_time_range():
    with pytest.raises(CommandError, match="name an aggregate or a time range"):
        call_command("republish_outbox")


@pytest.mark.django_db
def test_republish_outbox_marks_an_aggregates_published_events_for_the_relay_again():
    with transaction.atomic():
        for aggregate in ("a", "b"):
            publishing.publish(
                "TestCredited",
                aggregate_type="account",
                aggregate_id=aggregate,
                sequence=1,
                payload={"amount_cents": 1, "memo": "m"},
            )
    OutboxEvent.objects.update(published_at="2026-01-01T00:00:00Z")
    out = StringIO()

    call_command("republish_outbox", aggregate="a", dry_run=True, stdout=out)
    call_command("republish_outbox", aggregate="a", stdout=out)

    assert out.getvalue().splitlines() == [
        "1 outbox events would be republished",
        "1 outbox events marked for republishing",
    ]
    assert list(OutboxEvent.objects.filter(published_at=None).values_list("aggregate_id", flat=True)) == ["a"]


def test_republish_outbox_refuses_a_time_that_is_not_one():
    with pytest.raises(CommandError, match="--since"):
        call_command("republish_outbox", "--since", "yesterday-ish")


# What every Django command takes; a command's own options are the rest.
DJANGO_OPTIONS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}


@pytest.mark.parametrize(
    "command",
    ["relay_outbox", "consume", "replay_events", "republish_outbox", "create_topics", "watch_pipeline"],
)
def test_every_events_command_describes_itself_and_its_options(capsys, command):
    parser = load_command_class("events", command).create_parser("manage.py", command)
    own = [a for a in parser._actions if a.dest not in DJANGO_OPTIONS and a.option_strings]

    with pytest.raises(SystemExit):
        call_command(command, "--help")

    shown = " ".join(capsys.readouterr().out.split())
    assert (parser.description or "").strip(), f"{command} says nothing of what it does"
    assert " ".join(parser.description.split()) in shown
    for action in own:
        assert action.option_strings[-1] in shown
        assert action.help, f"{command} {action.option_strings[-1]} has no help"


GROUP_PREFIX = f"test-{uuid.uuid4().hex[:8]}-"


def command_process(*args: str) -> subprocess.Popen:
    """`manage.py <args>` as a real process of this service, on the test database and in consumer
    groups of its own (never the running stack's)."""
    db = connection.settings_dict
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.orders",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "EVENTS_CONSUMER_GROUP_PREFIX": GROUP_PREFIX,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output.decode()


@pytest.mark.django_db(transaction=True)
def test_relay_outbox_publishes_committed_events_and_stops_cleanly_on_sigterm(topic):
    with transaction.atomic():
        publishing.publish(
            "TestCredited",
            aggregate_type="account",
            aggregate_id="a",
            sequence=1,
            payload={"amount_cents": 1, "memo": "m"},
            topic=topic,
        )
    process = command_process("relay_outbox", "--poll-interval", "0.2")
    try:
        wait_until(
            lambda: not OutboxEvent.objects.filter(published_at=None).exists(),
            timeout=30,
            message="the relay to publish",
        )
    finally:
        output = stop(process)

    assert process.returncode == 0, output
    assert "outbox relay stopped" in output
    assert support.find_on_topic(topic, lambda m: m.key() == b"a") is not None


@pytest.mark.django_db(transaction=True)
def test_consume_runs_the_services_consumer_and_stops_cleanly_on_sigterm():
    process = command_process("consume")
    try:
        wait_until(
            lambda: _group_is_up(GROUP_PREFIX + "orders"),
            timeout=30,
            message="the consumer to join its group",
        )
    finally:
        output = stop(process)

    assert process.returncode == 0, output
    assert "consumer orders stopped" in output


def _group_is_up(group: str) -> bool:
    from events import kafka

    described = kafka.admin_client().describe_consumer_groups([group])[group].result(timeout=10)
    return len(described.members) > 0
