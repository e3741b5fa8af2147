"""Production: everything from the environment, PostgreSQL and Redis required.

`manage.py check --deploy` is clean with these settings (tested). Secrets come only from the
environment: there is no default for DJANGO_SECRET_KEY or DJANGO_ALLOWED_HOSTS.
"""

from .base import *  # noqa: F403
from .base import (
    DATABASES,
    INSTALLED_APPS,
    LOGGING,
    MIDDLEWARE,
    REDIS_URL,
    STATIC_ROOT,
    STATICFILES_DIRS,
    STOCKROOM_WEBSOCKET_PORT,
    env,
)

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
# The loopback names let the container's own health check and a sidecar scraper in.
ALLOWED_HOSTS = [*env.list("DJANGO_ALLOWED_HOSTS"), "localhost", "127.0.0.1"]

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError("Production needs DATABASE_URL pointing at PostgreSQL.")
if not REDIS_URL:
    raise RuntimeError("Production needs REDIS_URL.")

# --- HTTPS behind a TLS-terminating proxy -----------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Probes and scrapers talk plain HTTP to the process itself.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Content security policy for the pages (django-csp) -------------------------------------
# Scripts only from our own origin: Django's admin ships no inline script, and no page may
# (no <script> blocks, no on*= attributes: put handlers in static .js files).
# Styles allow 'unsafe-inline' so pages and admin extensions may use style attributes; an
# inline style cannot run code.
# WebSockets (live stock) connect to the same host.
# A websocket port of its own (no proxy in front, see `manage.py serve`) is another origin.
WEBSOCKET_SOURCES = (
    [f"ws://*:{STOCKROOM_WEBSOCKET_PORT}", f"wss://*:{STOCKROOM_WEBSOCKET_PORT}"]
    if STOCKROOM_WEBSOCKET_PORT
    else []
)
INSTALLED_APPS = [*INSTALLED_APPS, "csp"]
MIDDLEWARE = [*MIDDLEWARE, "csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", "wss:", *WEBSOCKET_SOURCES],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Static files: WhiteNoise serves hashed, compressed files with far-future caching --------
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
STATICFILES_DIRS = [path for path in STATICFILES_DIRS if path.is_dir()]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(STATIC_ROOT))

# --- Workers ------------------------------------------------------------------------------
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # tasks log through LOGGING below, as JSON
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")

# --- Logs: one JSON object per line on stdout, with the request id -------------------------
LOGGING = {
    **LOGGING,
    "formatters": {
        **LOGGING["formatters"],
        "json": {"()": "apps.observability.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env("DJANGO_LOG_FORMAT", default="json"),
            "filters": ["request_id"],
        }
    },
}
