"""The payments service: its apps, URLconf, database and Celery queue."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    OMS_ENV,
    SHARED_APPS,
    SPECTACULAR_SETTINGS,
    env,
    kafka_principal,
    service_database,
    static_root,
)

SERVICE_NAME = "payments"
INSTALLED_APPS = [*SHARED_APPS, "payments"]
ROOT_URLCONF = "config.urls.payments"
DATABASES = {"default": service_database(SERVICE_NAME)}
KAFKA_USERNAME, KAFKA_PASSWORD = kafka_principal(SERVICE_NAME)
STATIC_ROOT = static_root(SERVICE_NAME)
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
EVENT_CONSUMERS = ["payments.handlers.CONSUMER"]
# The card gateway (payments/gateway.py): Stripe's API at this address, with this secret key. The
# local stack's is the simulator (card_gateway/); Stripe's own is https://api.stripe.com.
PAYMENTS_GATEWAY_URL = env("PAYMENTS_GATEWAY_URL", default="http://127.0.0.1:8010")
LOCAL_GATEWAY_API_KEY = "sk_test_oms_local"  # the simulator's; production mode refuses it
PAYMENTS_GATEWAY_API_KEY = env("PAYMENTS_GATEWAY_API_KEY", default=LOCAL_GATEWAY_API_KEY)
if OMS_ENV == "production" and PAYMENTS_GATEWAY_API_KEY == LOCAL_GATEWAY_API_KEY:
    raise ImproperlyConfigured(
        "OMS_ENV=production refuses to start: PAYMENTS_GATEWAY_API_KEY is the local simulator's: "
        "set the provider's secret key"
    )
# How long a gateway call may take before its outcome counts as unknown (retried with its key).
PAYMENTS_GATEWAY_TIMEOUT_SECONDS = env.float("PAYMENTS_GATEWAY_TIMEOUT_SECONDS", default=5.0)
# A charge or refund whose outcome is still unknown this long after its last attempt is tried
# again (with the same key) by the periodic task payments.tasks.payments_settle_stalled.
PAYMENTS_INTENT_RETRY_SECONDS = env.float("PAYMENTS_INTENT_RETRY_SECONDS", default=10.0)
# Attempts at one gateway call before its intent is left for the periodic retry: the second and
# third follow at once (50 ms, 100 ms), so a transient error or a lost answer costs no more.
PAYMENTS_GATEWAY_ATTEMPTS = env.int("PAYMENTS_GATEWAY_ATTEMPTS", default=3)
# Gateway calls one process keeps in flight at once (payments/dispatch.py). A consumer charges
# at most this many divided by a call's latency a second (Little's law): 128 at a provider's
# 300 ms is 427 charges a second, at 20 ms over 6,000.
PAYMENTS_GATEWAY_CONCURRENCY = env.int("PAYMENTS_GATEWAY_CONCURRENCY", default=128)
# Intents a consumer process may hold waiting for or in a call; past this its loop pauses its
# partitions until they drain (backpressure). Twice the concurrency: a batch's worth waits while
# the calls in flight finish.
PAYMENTS_DISPATCH_MAX_PENDING = env.int("PAYMENTS_DISPATCH_MAX_PENDING", default=256)
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Payments service API",
    "DESCRIPTION": "Staff read payments.",
}
