"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_site.settings.local")

# Django must be set up before anything imports models (consumers, routing).
django.setup(set_prefix=False)

from inventory_site.http_handler import SyncASGIHandler  # noqa: E402

django_http_app = SyncASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.events.auth import ApiKeyAuthMiddleware, browser_origin_validator  # noqa: E402
from apps.events.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_http_app,
        "websocket": browser_origin_validator(
            AuthMiddlewareStack(ApiKeyAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
