"""Tests: always real PostgreSQL (DATABASE_URL, default the local server) and real Redis."""

from .base import *  # noqa: F403
from .base import DATABASES, STOCKROOM_REDIS_PREFIX, env

DATABASES["default"] = env.db(
    "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/stockroom"
)
# The test runner creates and drops databases; a pool would hold connections across that.
DATABASES["default"].pop("OPTIONS", None)
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default=None)}

SECRET_KEY = "test-only-secret-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# No worker runs beside the test process: like the embedded defaults, nothing is queued (tests
# publish the outbox themselves). Tests that start workers turn both off.
STOCKROOM_EMBEDDED = CELERY_TASK_ALWAYS_EAGER

# Real Redis for the cache and the channel layer (a database of its own, flushed by tests).
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/15")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": STOCKROOM_REDIS_PREFIX,
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{STOCKROOM_REDIS_PREFIX}:asgi"},
    }
}
CELERY_BROKER_URL = REDIS_URL

# Every request looks its API key up (query counts stay exact, a revocation shows at once);
# tests/apikeys turns the short-lived key cache on where it is the subject.
STOCKROOM_API_KEY_CACHE_SECONDS = 0
# Tests send many requests without credentials from one address; tests/api/test_rate_limit.py
# sets its own budgets.
STOCKROOM_API_ANONYMOUS_RATE_LIMIT = "100000/min"

# The tests' partner receivers listen on 127.0.0.1; the default (nothing internal) is tested
# by overriding this with [] (tests/webhooks/test_targets.py).
STOCKROOM_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
