"""ASGI entry point: the Channels websockets, and HTTP through Django's ASGI handler.

On the production stack HTTP is served over WSGI (`inventory_site.wsgi`, granian) and this
application only sees websockets; the embedded single process (`manage.py serve` without
REDIS_URL) serves both from here.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_site.settings.local")

# Django must be set up before anything imports models (consumers, routing).
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from apps.events.auth import ApiKeyAuthMiddleware, browser_origin_validator  # noqa: E402
from apps.events.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ASGIHandler(),
        "websocket": browser_origin_validator(
            AuthMiddlewareStack(ApiKeyAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
