"""The topic registry and its creation on the real Kafka broker."""

from io import StringIO

from django.core.management import call_command

from events import kafka
from events.topics import SERVICES, TOPICS, dead_letter_topic, event_topic


def test_every_service_has_an_event_topic_and_a_dead_letter_topic():
    names = {topic.name for topic in TOPICS}

    for service in SERVICES:
        assert event_topic(service) in names
        assert dead_letter_topic(service) in names


def test_create_topics_leaves_every_topic_on_the_broker_with_its_partition_count():
    # when, twice: the second run must find everything in place and change nothing
    call_command("create_topics", wait=30, stdout=StringIO())
    out = StringIO()
    call_command("create_topics", stdout=out)

    # then
    assert out.getvalue().strip().endswith(f"{len(TOPICS)} topics present, 0 created")
    on_broker = kafka.admin_client().list_topics(timeout=10).topics
    for topic in TOPICS:
        assert len(on_broker[topic.name].partitions) == topic.partitions, topic.name
