"""A card payment provider for the local stack: a stand-in for Stripe, outside every service.

Payments talks to it over HTTP with the official `stripe` SDK, exactly as it would talk to
Stripe (PaymentIntents and Refunds, with `Idempotency-Key`), so a real provider is a setting
away (PAYMENTS_GATEWAY_URL, PAYMENTS_GATEWAY_API_KEY). It keeps its own ledger in its own
SQLite database, which no service can roll back, and it can be made slow, flaky or late on
purpose (`POST /_faults`) for the tests and `make chaos`, which read that ledger (`GET
/_ledger`). It is not a service of the system: nothing here is deployed outside the local stack.
See docs/card-gateway.md.
"""
