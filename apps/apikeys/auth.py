"""API key authentication: `Authorization: Bearer <key>`.

`authenticate_key` is the transport-free check (reusable by websockets); `ApiKeyAuthentication`
is the DRF class built on it.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.apikeys.models import KEY_NAMESPACE, ApiKey, hash_key
from apps.core import db_errors

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_KEY_LENGTH = 128
RECENT_KEYS_MAX = 10_000

# Keys that authenticated in the last STOCKROOM_API_KEY_CACHE_SECONDS, by digest: a busy key is
# looked up in the database once per interval per process, not on every request.
_recent: dict[str, tuple[float, ApiKey]] = {}
_recent_lock = threading.Lock()


def forget_key(api_key_id: int) -> None:
    """Drop a key from this process's recent keys (revocation, deactivation)."""
    with _recent_lock:
        for digest in [d for d, (_, key) in _recent.items() if key.pk == api_key_id]:
            del _recent[digest]


def authenticate_key(raw_key: str) -> ApiKey | None:
    """The active key for `raw_key` (with `.merchant` loaded), or None. Records the use at most
    once a minute, with a conditional UPDATE that never blocks the caller on a busy key.

    A key found active is remembered for STOCKROOM_API_KEY_CACHE_SECONDS: a revocation (or a
    merchant's deactivation) takes effect at once in the process that made it and within that
    interval everywhere else. While the database cannot be reached, a key this process knew is
    taken as it last knew it (nothing can be revoked meanwhile: revoking writes to that
    database), so reads served from the cache keep answering; writes still fail with 503."""
    raw_key = (raw_key or "").strip()
    if not raw_key.startswith(KEY_NAMESPACE) or len(raw_key) > MAX_KEY_LENGTH:
        return None
    digest = hash_key(raw_key)
    recent = _recent.get(digest)
    if recent is not None and recent[0] > time.monotonic():
        return recent[1]
    if recent is not None and not db_errors.database_outage.should_try():
        return recent[1]  # the database is unreachable: the key as this process last knew it
    try:
        api_key = _active_key(digest)
    except (OperationalError, InterfaceError) as error:
        if recent is None or not db_errors.is_unreachable(error):
            raise
        db_errors.database_outage.failed(error)
        return recent[1]
    db_errors.database_outage.recovered()
    if api_key is None:
        _recent.pop(digest, None)
        return None
    if settings.STOCKROOM_API_KEY_CACHE_SECONDS > 0:
        with _recent_lock:
            if len(_recent) >= RECENT_KEYS_MAX:
                _recent.clear()
            _recent[digest] = (time.monotonic() + settings.STOCKROOM_API_KEY_CACHE_SECONDS, api_key)
    return api_key


def _active_key(digest: str) -> ApiKey | None:
    """The active key with this digest (its use recorded at most once a minute), or None."""
    api_key = (
        ApiKey.objects.select_related("merchant")
        .filter(hashed_key=digest, revoked_at__isnull=True, merchant__is_active=True)
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


def key_from_authorization(header: str) -> ApiKey | None:
    """The active key of an `Authorization: Bearer <key>` header, or None for any other
    header (absent, malformed, another scheme, an unknown or revoked key)."""
    scheme, _, raw_key = header.partition(" ")
    if scheme.lower() != "bearer" or not raw_key or " " in raw_key.strip():
        return None
    return authenticate_key(raw_key)


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
