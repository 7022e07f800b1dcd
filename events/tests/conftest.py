import pytest

from events.tests import support


@pytest.fixture
def ledger(transactional_db):
    """The test ledger table, in a database whose commits other threads and processes can see."""
    support.create_ledger()
    yield
    support.drop_ledger()


@pytest.fixture
def topic():
    """A throw-away Kafka topic with 3 partitions."""
    name = support.create_topic()
    yield name
    support.delete_topic(name)
