"""How far each consumer group is behind, read from Kafka itself (committed offsets against the
partitions' high watermarks), so any service can show every group's lag."""

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException
from django.conf import settings

from events import kafka

TIMEOUT_SECONDS = 5


def consumer_group_lag(consumer_name: str) -> dict[str, int] | None:
    """Messages behind, per topic, of the group of the consumer so named (None if Kafka does not
    answer). A partition the group never committed counts from its low watermark."""
    group = settings.EVENTS_CONSUMER_GROUP_PREFIX + consumer_name
    try:
        future = kafka.admin_client().list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
        committed = future[group].result(timeout=TIMEOUT_SECONDS).topic_partitions or []
        watermarks = Consumer(kafka.client_config(**{"group.id": f"{group}-lag-probe"}))
        try:
            lag: dict[str, int] = {}
            for partition in committed:
                low, high = watermarks.get_watermark_offsets(partition, timeout=TIMEOUT_SECONDS)
                position = partition.offset if partition.offset >= 0 else low
                lag[partition.topic] = lag.get(partition.topic, 0) + max(high - position, 0)
            return lag
        finally:
            watermarks.close()
    except KafkaException:
        return None
    except TimeoutError:
        # An admin client that saw the broker go can wait on answers that never come (the overview
        # page answered 500 after a broker restart): the next call gets a new one.
        kafka.admin_client_reset()
        return None
