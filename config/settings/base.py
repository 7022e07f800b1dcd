"""Settings every service shares.

A service's own module (config/settings/<service>.py) star-imports these and adds its name, apps,
URLconf and database. Differences between environments come from environment variables only,
read here through django-environ; .env.example documents each one.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()
if (BASE_DIR / ".env").exists():
    # Optional local overrides; variables already in the environment win.
    env.read_env(BASE_DIR / ".env")

# "local" (the loopback-only local stack, the default) or "production": see the end of this block.
OMS_ENV = env("OMS_ENV", default="local")
# The local stack's secrets: in the repository, so never good outside it.
LOCAL_SECRET_KEY = "django-insecure-local-stack-only"
LOCAL_INTERNAL_API_KEYS = {"reconciliation": "local-stack-reconciliation-key"}
LOCAL_ADMIN_PASSWORD = "admin"

# Signs sessions and tokens. The default is for the loopback-only local stack; set a real one elsewhere.
SECRET_KEY = env("SECRET_KEY", default=LOCAL_SECRET_KEY)
# Django's debug pages; never on outside a developer's machine.
DEBUG = env.bool("DEBUG", default=False)
# Keys of the services allowed to call the internal APIs (config/service_auth.py), `name=secret`
# pairs; the defaults are for the loopback-only local stack. Set real secrets anywhere else.
INTERNAL_API_KEYS = env.dict("INTERNAL_API_KEYS", default=LOCAL_INTERNAL_API_KEYS)
# Host names the web servers answer to.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

if OMS_ENV not in ("local", "production"):
    raise ImproperlyConfigured(f"OMS_ENV={OMS_ENV!r}: set it to local or production")
if OMS_ENV == "production":
    # Refuse to start with what the repository holds, and run with Django's deploy settings:
    # `manage.py check --deploy` is clean. TLS ends at the proxy in front, which says so in
    # X-Forwarded-Proto; the probes and Prometheus may still call plain HTTP.
    refused = []
    if SECRET_KEY == LOCAL_SECRET_KEY:
        refused.append("SECRET_KEY is the local stack's: set a long random one")
    elif len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
        # Django's own rule for a key strong enough (its deploy check, security.W009).
        refused.append("SECRET_KEY is too weak: set a random one of at least 50 characters")
    for name, secret in INTERNAL_API_KEYS.items():
        if secret in LOCAL_INTERNAL_API_KEYS.values():
            refused.append(f"INTERNAL_API_KEYS[{name!r}] is the local stack's: set a long random secret")
        elif len(secret) < 32:
            refused.append(f"INTERNAL_API_KEYS[{name!r}] is under 32 characters: set a long random secret")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        refused.append("ALLOWED_HOSTS must name the service's hosts, not be empty or '*'")
    if DEBUG:
        refused.append("DEBUG is on: it shows settings and code to anyone")
    if refused:
        raise ImproperlyConfigured("OMS_ENV=production refuses to start: " + "; ".join(refused))
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = True

# Where the local stack's PostgreSQL listens; a service's DATABASE_URL defaults to its database there.
POSTGRES_HOST = env("POSTGRES_HOST", default="127.0.0.1")
POSTGRES_PORT = env.int("POSTGRES_PORT", default=5433)

# Comma-separated Kafka bootstrap servers.
KAFKA_BOOTSTRAP_SERVERS = env("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092")
# How the services reach Kafka: each as its own principal (SASL/SCRAM-SHA-512, kafka_principal
# below), which the broker's ACLs let write its own topics only (events/acls.py). On the local
# stack over loopback without TLS; a real cluster is reached with SASL_SSL.
KAFKA_SECURITY_PROTOCOL = env("KAFKA_SECURITY_PROTOCOL", default="SASL_PLAINTEXT")
KAFKA_SASL_MECHANISM = env("KAFKA_SASL_MECHANISM", default="SCRAM-SHA-512")
if OMS_ENV == "production" and KAFKA_SECURITY_PROTOCOL == "PLAINTEXT":
    raise ImproperlyConfigured(
        "OMS_ENV=production refuses KAFKA_SECURITY_PROTOCOL=PLAINTEXT: anyone who reaches the broker "
        "could publish any event; use SASL_SSL"
    )
# Replicas of each topic the project creates: 1 on the one-node local stack, 3 on its cluster mode
# (KAFKA_NODES=3, which sets it through stack/env.sh) and on a real cluster.
KAFKA_REPLICATION_FACTOR = env.int("KAFKA_REPLICATION_FACTOR", default=1)

# The Celery broker (Redis). Each service's tasks go to a queue named after the service.
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6380/0")

SHARED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "events",
]

# WSGI middleware around Django's handler, outermost first (config/wsgi.py); set per service.
WSGI_MIDDLEWARE: list[str] = []

MIDDLEWARE = [
    "config.middleware.RequestBodyLimitMiddleware",
    "config.middleware.NulCharacterMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
# Larger request bodies are refused with 413 (no request of these APIs comes near it).
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# How long a web process trusts an API token it has already checked, and how many it remembers
# (config/authentication.py): a revoked token keeps working for at most that long.
AUTH_TOKEN_CACHE_SECONDS = env.int("AUTH_TOKEN_CACHE_SECONDS", default=30)
AUTH_TOKEN_CACHE_SIZE = env.int("AUTH_TOKEN_CACHE_SIZE", default=10_000)

# Django's cache, shared by a service's web processes: what the rate limits count in
# (config/throttling.py). Redis database 1; Celery's broker is database 0.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/1"),
    }
}

# Password guessing (django-axes): after AXES_FAILURE_LIMIT failed logins of one username from
# one client address, that pair is locked out for AXES_COOLOFF_MINUTES, whatever the password
# (429 on the admin's login, 403 on the token endpoint), in every service. The pair, not the
# address alone or the username alone: a guesser cannot lock a colleague out from elsewhere,
# and the address is the connection's own (NUM_PROXIES, as the rate limits read it). Failures
# are kept in the database (the admin's Access attempts; `manage.py axes_reset_username NAME`
# lifts a lockout); a successful login clears the pair's count and is not recorded.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_CLIENT_IP_CALLABLE = "config.throttling.client_address"

# Django's four password validators: register refuses a short, common, all-digit password, or
# one like the username (orders/api/v1/serializers.py).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The APIs take JSON only: a form-encoded body would be read by other rules (an empty field
    # counts as absent), and the schema would have to document it. Other bodies get 415.
    "DEFAULT_PARSER_CLASSES": ["config.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The client's address, for the rate limits and the login lockout, is the connection's own:
    # X-Forwarded-For is anybody's to write (with DRF's default, None, any value was taken).
    # Behind N proxies of your own, NUM_PROXIES=N reads it from X-Forwarded-For.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the sidecar package's static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get components of their own, which say what a request must hold and a
    # response need not (e.g. a string may not be blank: minLength 1).
    "COMPONENT_SPLIT_REQUEST": True,
    # drf-spectacular's default hook, then the errors answered before a view runs (400, 401, 403, 414).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.document_errors_outside_views",
    ],
}

# --- Events (the events app) ---
# Dotted paths of this service's consumers (events.consumers.Consumer); set per service.
EVENT_CONSUMERS: list[str] = []
# Dotted paths of a service's own Prometheus collectors, read from its database at scrape time.
METRICS_COLLECTORS: list[str] = []
# Attempts at a failing handler before its event is dead-lettered, and the first back-off (doubling).
EVENTS_HANDLER_ATTEMPTS = env.int("EVENTS_HANDLER_ATTEMPTS", default=3)
EVENTS_HANDLER_BACKOFF_SECONDS = env.float("EVENTS_HANDLER_BACKOFF_SECONDS", default=0.2)
# Database failures in a row after which a consumer exits, for the process manager to restart it.
EVENTS_MAX_CONSECUTIVE_ERRORS = env.int("EVENTS_MAX_CONSECUTIVE_ERRORS", default=10)
# Prefix of every consumer group id (group = prefix + consumer name): lets two environments share
# one Kafka cluster without reading each other's offsets.
EVENTS_CONSUMER_GROUP_PREFIX = env("EVENTS_CONSUMER_GROUP_PREFIX", default="")
# A consumer that sends no heartbeat for this long is dropped from its group.
EVENTS_CONSUMER_SESSION_TIMEOUT_MS = env.int("EVENTS_CONSUMER_SESSION_TIMEOUT_MS", default=10000)
# Consumers mark each applied batch's offsets at once and Kafka receives them this often (and on
# a rebalance or a clean stop): a consumer killed in between re-reads at most this much, which
# the inbox absorbs, instead of a broker round trip after every batch. The committed offsets are
# also what the pipeline's delay is measured from (events/pipeline.py): a busy group reads up to
# this much behind, so it is short (4 small requests a second per consumer).
EVENTS_CONSUMER_COMMIT_INTERVAL_MS = env.int("EVENTS_CONSUMER_COMMIT_INTERVAL_MS", default=250)
# The consumers' batching window: the broker answers a consumer's fetch once this many bytes
# are there for it, or once this many milliseconds have passed (docs/benchmarks.md, "Batching").
EVENTS_CONSUMER_FETCH_MIN_BYTES = env.int("EVENTS_CONSUMER_FETCH_MIN_BYTES", default=65536)
EVENTS_CONSUMER_FETCH_WAIT_MS = env.int("EVENTS_CONSUMER_FETCH_WAIT_MS", default=100)
# The relay's batching window: after a NOTIFY wakes it, it waits this long for more rows to commit.
EVENTS_RELAY_BATCH_WINDOW_MS = env.int("EVENTS_RELAY_BATCH_WINDOW_MS", default=50)
# How long the relay waits for the broker to confirm a message before retrying it later.
EVENTS_RELAY_MESSAGE_TIMEOUT_MS = env.int("EVENTS_RELAY_MESSAGE_TIMEOUT_MS", default=15000)
EVENTS_RELAY_MAX_BACKOFF_SECONDS = env.int("EVENTS_RELAY_MAX_BACKOFF_SECONDS", default=30)
# Published outbox rows and inbox rows older than these are pruned (Celery beat, daily).
EVENTS_OUTBOX_RETENTION_DAYS = env.int("EVENTS_OUTBOX_RETENTION_DAYS", default=7)
# Keep inbox rows longer than any redelivery or replay you may run: they are what makes one harmless.
EVENTS_INBOX_RETENTION_DAYS = env.int("EVENTS_INBOX_RETENTION_DAYS", default=30)

# The pipeline's delay (events/pipeline.py): `manage.py watch_pipeline` measures this service's
# outbox and these consumer groups (by consumer name; a service's own by default) this often.
PIPELINE_WATCH_INTERVAL_SECONDS = env.float("PIPELINE_WATCH_INTERVAL_SECONDS", default=1.0)
PIPELINE_WATCHED_CONSUMERS: list[str] | None = None
# A stage with events waiting that made no progress for this long is stalled: an outage.
PIPELINE_STALL_SECONDS = env.int("PIPELINE_STALL_SECONDS", default=15)
# A measurement older than this is stale: how far behind the pipeline is, is unknown.
PIPELINE_STALE_SECONDS = env.int("PIPELINE_STALE_SECONDS", default=10)
# /readyz says `degraded` when one of this service's stages is this far behind (or stalled).
PIPELINE_DEGRADED_SECONDS = env.int("PIPELINE_DEGRADED_SECONDS", default=10)

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# JSON lines on stderr, each with the correlation_id and event_id of the work in hand.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "events.logcontext.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # The stripe SDK logs two lines per request at INFO: payments' own metrics count the calls.
    "loggers": {"stripe": {"level": "WARNING"}},
}


def local_kafka_password(principal: str) -> str:
    """The local stack's Kafka password of `principal` (stack/scripts/up.sh writes the same)."""
    return f"local-kafka-{principal}"


def kafka_principal(service: str) -> tuple[str, str]:
    """The service's Kafka user name and password: KAFKA_USERNAME and KAFKA_PASSWORD, else the
    local stack's user of the service's name. Production refuses a local password."""
    username = env("KAFKA_USERNAME", default=service)
    password = env("KAFKA_PASSWORD", default=local_kafka_password(username))
    if OMS_ENV == "production" and password == local_kafka_password(username):
        raise ImproperlyConfigured(
            f"OMS_ENV=production refuses to start: KAFKA_PASSWORD is the local stack's {username!r} "
            "password: set the service's own"
        )
    return username, password


def service_database(service: str) -> dict:
    """The service's own database: DATABASE_URL, else its database on the local stack.

    Each service has its own database and its own role, and the role may connect to nothing else.
    """
    local = f"postgres://oms_{service}:oms_{service}@{POSTGRES_HOST}:{POSTGRES_PORT}/oms_{service}"
    database = env.db("DATABASE_URL", default=local)
    # Django's backend with a health check that looks at the connection's socket instead of
    # sending a query (config/database/base.py), so checking a kept connection before each request
    # costs no round trip.
    database["ENGINE"] = "config.database"
    # Keep connections open between requests, and check them before reuse (a connection the
    # server ended, e.g. by a restart, is replaced before the request uses it).
    database["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
    database["CONN_HEALTH_CHECKS"] = True
    return database


def static_root(service: str) -> Path:
    """collectstatic's target: one directory per service, served by WhiteNoise."""
    return BASE_DIR / "var" / "static" / service
