"""The events the services exchange: one module per producing service, each registering the
payload schema of every version of its event types (events/schemas.py). This is the contract
between services; change it only by adding a version with an upcast."""

from events.contracts import inventory, orders, payments, reconciliation  # noqa: F401 - registers the schemas
