"""New ids for events, orders and payments: UUIDv7 (RFC 9562, the uuid6 package), whose first 48
bits are the time in milliseconds. Ids made in time order land at the right-hand end of every
index on them (primary keys, the inbox's and the outbox's unique event ids, the projection's
sagas), instead of on a random page each, which a uuid4 did: fewer pages touched, and far fewer
full-page images written to the WAL after each checkpoint. The other 74 bits are random, so an
id can be neither guessed nor enumerated."""

import uuid

import uuid6


def new_id() -> uuid.UUID:
    return uuid6.uuid7()
