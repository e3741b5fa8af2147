"""Creating and revoking API keys. The secret exists in clear only in the return value of
`api_key_create`: show it once, it cannot be recovered."""

from __future__ import annotations

import functools
import secrets

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.apikeys.auth import forget_key
from apps.apikeys.models import KEY_NAMESPACE, ApiKey, hash_key
from apps.merchants.models import Merchant

PREFIX_LENGTH = 12  # "sr_" + 9 characters of the secret: enough to tell keys apart


@transaction.atomic
def api_key_create(
    *, merchant: Merchant, name: str, read_only: bool = False, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key for `merchant`. Returns the key and its secret (shown once)."""
    raw_key = KEY_NAMESPACE + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        merchant=merchant,
        name=name.strip()[:100] or "API key",
        prefix=raw_key[:PREFIX_LENGTH],
        hashed_key=hash_key(raw_key),
        read_only=read_only,
        created_by=created_by,
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key: it stops authenticating at once in this process, and within
    STOCKROOM_API_KEY_CACHE_SECONDS in the others. Revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    forget_key(api_key.pk)
    # Again after commit: a request in this process may have looked the key up meanwhile.
    transaction.on_commit(functools.partial(forget_key, api_key.pk))
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key
