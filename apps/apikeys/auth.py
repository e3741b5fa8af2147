"""API key authentication: `Authorization: Bearer <key>`.

`authenticate_key` is the transport-free check (reusable by websockets); `ApiKeyAuthentication`
is the DRF class built on it.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.apikeys.models import ApiKey
from apps.apikeys.services import KEY_NAMESPACE, hash_key

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_KEY_LENGTH = 128


def authenticate_key(raw_key: str) -> ApiKey | None:
    """The active key for `raw_key` (with `.merchant` loaded), or None. Records the use at most
    once a minute, with a conditional UPDATE that never blocks the caller on a busy key."""
    raw_key = (raw_key or "").strip()
    if not raw_key.startswith(KEY_NAMESPACE) or len(raw_key) > MAX_KEY_LENGTH:
        return None
    api_key = (
        ApiKey.objects.select_related("merchant")
        .filter(hashed_key=hash_key(raw_key), revoked_at__isnull=True, merchant__is_active=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk, last_used_at=api_key.last_used_at).update(
            last_used_at=now
        )
        api_key.last_used_at = now
    return api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>`. On success `request.user` is anonymous and `request.auth`
    is the ApiKey; the merchant comes from the key."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: send 'Authorization: Bearer <key>'."
            )
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        api_key = authenticate_key(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A merchant API key: `Authorization: Bearer sr_...`.",
        }
