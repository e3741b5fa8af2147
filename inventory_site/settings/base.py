"""Settings shared by every environment. Configuration comes from the environment (12-factor).

With nothing set, the product runs on embedded defaults: SQLite, an in-process cache and an
in-memory channel layer. `DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-development-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "apps.core",
    "apps.accounts",
    "apps.merchants",
    "apps.catalog",
    "apps.locations",
    "apps.inventory",
    "apps.observability",
    "apps.reports",
    "apps.apikeys",
    "apps.feeds",
    "drf_spectacular_sidecar",
    "apps.events",
    "apps.alerts",
    "apps.webhooks",
    "apps.dashboard",
    "apps.demo",
    "apps.home",
]

MIDDLEWARE = [
    "apps.core.middleware.TrustedProxyMiddleware",  # REMOTE_ADDR: the client behind our proxies
    "apps.api.middleware.HttpsWritesMiddleware",  # refuses, never redirects, a write
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.api.middleware.CommonMiddleware",  # never redirects a write (see the class)
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "inventory_site.urls"
WSGI_APPLICATION = "inventory_site.wsgi.application"
ASGI_APPLICATION = "inventory_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's pool: connections are reused across requests and threads (Django 5.1+).
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # No test query before each checkout (CONN_HEALTH_CHECKS): it is a round trip on every
    # request. After a database restart a dead pooled connection fails its request with a clean
    # 503 (DatabaseUnavailableMiddleware) and the pool discards it when it comes back broken.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the demo's web process and background loop read while one writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# django-axes checks every sign-in first (refusing it while its user and address are locked
# out), then Django's own backend checks the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Compact dates and times (inventory_site/formats/en/formats.py): "2026-11-29 17:05".
FORMAT_MODULE_PATH = ["inventory_site.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis: cache, channel layer, Celery broker ---------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Every key this deployment writes to Redis starts with this: deployments sharing one Redis
# must each set their own.
STOCKROOM_REDIS_PREFIX = env("STOCKROOM_REDIS_PREFIX", default="stockroom")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": STOCKROOM_REDIS_PREFIX,
            # One pool per process, not one per request (see apps/core/redis_pool.py).
            "OPTIONS": {"pool_class": "apps.core.redis_pool.SharedConnectionPool"},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{STOCKROOM_REDIS_PREFIX}:asgi"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Embedded mode: no broker, so this process does the background work itself (periodic jobs in
# apps.core.embedded_scheduler, after-commit work inline). Decided here, once; code asks this.
STOCKROOM_EMBEDDED = not REDIS_URL
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = STOCKROOM_EMBEDDED and env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Inventory ----------------------------------------------------------------------------
STOCKROOM_RESERVATION_TTL_SECONDS = env.int("STOCKROOM_RESERVATION_TTL_SECONDS", default=600)
STOCKROOM_RESERVATION_MAX_TTL_SECONDS = env.int(
    "STOCKROOM_RESERVATION_MAX_TTL_SECONDS", default=7 * 24 * 3600
)
STOCKROOM_IDEMPOTENCY_RETENTION_HOURS = env.int("STOCKROOM_IDEMPOTENCY_RETENTION_HOURS", default=48)

# --- Alerts and partner webhooks -----------------------------------------------------------
# Alert listeners: dotted paths of callables `listener(alert, event)` (see apps/alerts/listeners.py).
# Dashboards and partner webhooks get alerts through the outbox, whatever is listed here.
STOCKROOM_ALERT_LISTENERS = env.list(
    "STOCKROOM_ALERT_LISTENERS",
    default=["apps.alerts.listeners.log_listener", "apps.alerts.listeners.email_listener"],
)
STOCKROOM_ALERT_EMAILS = env.list("STOCKROOM_ALERT_EMAILS", default=[])
# Published events and finished webhook deliveries are kept this long (streams resume within it).
STOCKROOM_EVENT_RETENTION_DAYS = env.int("STOCKROOM_EVENT_RETENTION_DAYS", default=30)
STOCKROOM_WEBHOOK_TIMEOUT_SECONDS = env.float("STOCKROOM_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
STOCKROOM_WEBHOOK_MAX_ATTEMPTS = env.int("STOCKROOM_WEBHOOK_MAX_ATTEMPTS", default=12)
STOCKROOM_WEBHOOK_BACKOFF_SECONDS = env.float("STOCKROOM_WEBHOOK_BACKOFF_SECONDS", default=15.0)
STOCKROOM_WEBHOOK_BACKOFF_MAX_SECONDS = env.float(
    "STOCKROOM_WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600.0
)
STOCKROOM_WEBHOOK_DISABLE_AFTER_FAILURES = env.int(
    "STOCKROOM_WEBHOOK_DISABLE_AFTER_FAILURES", default=25
)
# Webhooks go to public addresses only; these networks (CIDR, comma-separated) are allowed
# too, e.g. partners on a private link. Loopback and metadata addresses belong here only in tests.
STOCKROOM_WEBHOOK_ALLOWED_NETWORKS = env.list("STOCKROOM_WEBHOOK_ALLOWED_NETWORKS", default=[])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# --- Merchant REST API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.apikeys.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.CredentialRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["apps.api.rendering.FastJSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.api.rendering.JSONFirstNegotiation",
    "DEFAULT_PARSER_CLASSES": ["apps.api.parsers.JSONBodyParser"],
    "DEFAULT_SCHEMA_CLASS": "apps.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "apps.api.problems.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # The client is REMOTE_ADDR (TrustedProxyMiddleware), never a header a client may forge.
    "NUM_PROXIES": 0,
}
# Requests per API key or signed-in user, and per client address for requests without valid
# credentials (no key, a wrong key), across every process.
STOCKROOM_API_RATE_LIMIT = env("STOCKROOM_API_RATE_LIMIT", default="1200/min")
STOCKROOM_API_ANONYMOUS_RATE_LIMIT = env("STOCKROOM_API_ANONYMOUS_RATE_LIMIT", default="60/min")
# How long a process trusts an API key it has just looked up (revocation delay elsewhere).
STOCKROOM_API_KEY_CACHE_SECONDS = env.float("STOCKROOM_API_KEY_CACHE_SECONDS", default=2.0)
# Requests each HTTP worker process serves at once (its WSGI threads); each holds at most one
# pooled database connection while it serves a request.
STOCKROOM_HTTP_THREADS = env.int("STOCKROOM_HTTP_THREADS", default=4)
# The port pages open websockets on when no proxy puts them on the page's own origin
# (`manage.py serve` sets it to its websocket port); unset: same origin.
STOCKROOM_WEBSOCKET_PORT = int(env("STOCKROOM_WEBSOCKET_PORT", default="") or 0) or None
SPECTACULAR_SETTINGS = {
    "TITLE": "Stockroom merchant API",
    "DESCRIPTION": (
        "Stock across locations: products, locations, stock levels, availability, stock "
        "changes, reservations, transfers, the ledger, bulk updates and the POS/supplier event "
        "feed. Authenticate with `Authorization: Bearer <API key>`. Every POST that changes "
        "stock needs an `Idempotency-Key` header. Errors are `application/problem+json`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Choice sets that several components share keep one name.
    "ENUM_NAME_OVERRIDES": {
        "LocationStatusEnum": "apps.locations.models.Location.Status",
        "BulkLineOutcomeStatusEnum": ["applied", "rejected"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.api.schema.add_path_examples",
    ],
}

# --- Operations: request ids, probes, metrics, graceful failure, read replica ----------------
MIDDLEWARE = [
    "apps.observability.middleware.RequestIdMiddleware",
    *MIDDLEWARE,
    "inventory_site.db_router.ReplicaPinMiddleware",
    "apps.observability.middleware.DatabaseUnavailableMiddleware",
]
LOGGING["filters"] = {"request_id": {"()": "apps.observability.logging.RequestIdFilter"}}
LOGGING["handlers"]["console"]["filters"] = ["request_id"]
STOCKROOM_RETRY_AFTER_SECONDS = env.int("STOCKROOM_RETRY_AFTER_SECONDS", default=5)
# A write PostgreSQL aborts with a deadlock or a serialization failure is run again, up to this
# many attempts in all (apps/core/db_errors.py).
STOCKROOM_DB_RETRY_ATTEMPTS = env.int("STOCKROOM_DB_RETRY_ATTEMPTS", default=3)
# While PostgreSQL cannot be reached, reads with a fallback (availability from the cache, API
# keys already seen) use it at once; every this many seconds one request tries the database
# again (apps/core/db_errors.py `Outage`).
STOCKROOM_DB_OUTAGE_BACKOFF_SECONDS = env.float("STOCKROOM_DB_OUTAGE_BACKOFF_SECONDS", default=2.0)
# How long the last figures read from the database stay in Redis to be served, marked stale,
# while PostgreSQL is unreachable (apps/inventory/availability_cache.py).
STOCKROOM_STALE_AVAILABILITY_SECONDS = env.int(
    "STOCKROOM_STALE_AVAILABILITY_SECONDS", default=24 * 3600
)
# Feed batches (up to 1,000 events each) the Redis stream holds while PostgreSQL is
# unreachable; beyond, POST events/ answers 503 (apps/feeds/services/queue.py).
STOCKROOM_FEED_QUEUE_MAX_BATCHES = env.int("STOCKROOM_FEED_QUEUE_MAX_BATCHES", default=100_000)
METRICS_TOKEN = env("METRICS_TOKEN", default="")
if REDIS_URL:
    # A cache that stops answering must cost milliseconds, not a hung request.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {
            "socket_connect_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
            "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
        }
    )
# A task whose worker died unacknowledged is delivered again after this many seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "global_keyprefix": f"{STOCKROOM_REDIS_PREFIX}:",  # queues, results, control
}
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=5)
DATABASE_REPLICA_RECHECK_SECONDS = env.float("DATABASE_REPLICA_RECHECK_SECONDS", default=10.0)
if DATABASE_REPLICA_URL:
    import copy

    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["OPTIONS"] = copy.deepcopy(DATABASES["default"].get("OPTIONS", {}))
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["inventory_site.db_router.PrimaryReplicaRouter"]

# --- Admin sign-in: lockout after repeated failures (django-axes) ---------------------------
# A user name is locked out from one client address after this many wrong passwords in a row
# (other addresses, and other users from that address, are not); every failure during the
# lockout restarts it. Behind a proxy the client address is taken from X-Forwarded-For when the
# proxy is in FORWARDED_ALLOW_IPS (TrustedProxyMiddleware; see docs/operations.md).
# Resetting the password by email lifts the lockout.
MIDDLEWARE = [*MIDDLEWARE, "axes.middleware.AxesMiddleware"]
AXES_FAILURE_LIMIT = env.int("STOCKROOM_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("STOCKROOM_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.views.sign_in_locked_out"
AXES_DISABLE_ACCESS_LOG = True  # failures only: no row per successful sign-in
AXES_VERBOSE = False

# --- Outgoing mail (password resets, alert emails) ------------------------------------------
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="stockroom@localhost")
EMAIL_HOST = env("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
