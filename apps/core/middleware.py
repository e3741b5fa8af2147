"""Middleware of the whole site: the client's address behind trusted proxies, and messages built
only when a page uses them."""

from __future__ import annotations

import os

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.utils.functional import SimpleLazyObject, empty


class LazyMessageMiddleware(MessageMiddleware):
    """Django's messages, with the storage built on first use. Django's middleware builds it
    (a signed-cookie and a session backend) for every request, and most requests (every API
    call) never touch it."""

    def process_request(self, request) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response  # never used: nothing to store
        return super().process_response(request, response)


class TrustedProxyMiddleware:
    """The client's address in REMOTE_ADDR, behind proxies that say it in X-Forwarded-For.

    The WSGI server reports the peer it talks to. When that peer is a proxy listed in
    FORWARDED_ALLOW_IPS (the same setting the websocket server, uvicorn, reads), the client is
    the right-most address of X-Forwarded-For that is not such a proxy; from any other peer the
    header is a client's claim and is ignored. Everything that counts per address (the API's
    budgets for requests without credentials, the admin sign-in lockout) reads REMOTE_ADDR."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.trusted = frozenset(
            address.strip()
            for address in os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1").split(",")
            if address.strip()
        )

    def __call__(self, request):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if forwarded and self._trusted(request.META.get("REMOTE_ADDR", "")):
            for address in reversed([part.strip() for part in forwarded.split(",")]):
                if address and not self._trusted(address):
                    request.META["REMOTE_ADDR"] = address
                    break
        return self.get_response(request)

    def _trusted(self, address: str) -> bool:
        return "*" in self.trusted or address in self.trusted
