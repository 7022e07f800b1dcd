"""The card gateway simulator's settings: one app, one SQLite database, no sessions or admin."""

from pathlib import Path

import environ

env = environ.Env()
ROOT = Path(__file__).resolve().parent.parent

# Nothing is signed (no sessions, no cookies); Django only insists on a key.
SECRET_KEY = env("CARD_GATEWAY_SECRET_KEY", default="card gateway simulator: nothing is signed")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["card_gateway"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "card_gateway.urls"
WSGI_APPLICATION = "card_gateway.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The ledger: its own storage, which the services' PostgreSQL restarts and rollbacks never touch.
# WAL lets the ledger be read while it is written; IMMEDIATE takes the write lock at BEGIN, so
# that concurrent requests queue for it (up to `timeout` seconds) instead of failing to upgrade.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("CARD_GATEWAY_DATABASE", default=str(ROOT / "var" / "card-gateway" / "ledger.sqlite3")),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # Each thread keeps its connection: closing the last one to a WAL database checkpoints it,
        # which cost a tenth of every request's time when each request opened and closed its own.
        "CONN_MAX_AGE": None,
    }
}
# The secret key a client must present (`Authorization: Bearer <key>`), as Stripe's API asks.
CARD_GATEWAY_API_KEY = env("CARD_GATEWAY_API_KEY", default="sk_test_oms_local")
# An idempotent request left in flight this long (its worker died before it finished) performed
# nothing (the operation and its result commit together): the next request with its key runs it.
CARD_GATEWAY_ABANDONED_SECONDS = env.int("CARD_GATEWAY_ABANDONED_SECONDS", default=60)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # A declined card's 402 is an answer, not a problem worth a log line.
    "loggers": {"django.request": {"level": "ERROR"}},
}
