"""Websocket authentication by API key, beside session authentication (AuthMiddlewareStack).

The key is read from `Authorization: Bearer <key>`, from a `stockroom.key.<key>` subprotocol
(what a browser can send) or from a `?key=` query parameter, and checked by
`apps.apikeys.auth.authenticate_key` when that module is installed.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings

KEY_SUBPROTOCOL_PREFIX = "stockroom.key."


def raw_key_from_scope(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    for protocol in scope.get("subprotocols", []):
        if protocol.startswith(KEY_SUBPROTOCOL_PREFIX):
            return protocol[len(KEY_SUBPROTOCOL_PREFIX) :]
    keys = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("key")
    return keys[0] if keys else None


def authenticate_key(raw_key: str) -> Any:
    try:
        module = importlib.import_module("apps.apikeys.auth")
    except ImportError:
        return None
    return module.authenticate_key(raw_key)


class ApiKeyAuthMiddleware(BaseMiddleware):
    """Sets `scope["api_key"]` (an ApiKey or None)."""

    async def __call__(self, scope, receive, send):
        raw = raw_key_from_scope(scope)
        api_key = await database_sync_to_async(authenticate_key)(raw) if raw else None
        return await super().__call__({**scope, "api_key": api_key}, receive, send)


class BrowserOriginValidator(OriginValidator):
    """Allowed-hosts origin check for browsers. A request without an Origin header comes from a
    non-browser client (a partner's server with an API key), which cross-site websocket
    hijacking cannot involve, so it is let through to authentication."""

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def browser_origin_validator(application):
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed_hosts)
