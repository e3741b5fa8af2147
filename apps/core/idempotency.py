"""Idempotency keys: claimed in the same transaction as the effect they guard.

`claim` inserts (merchant, key) with ON CONFLICT DO NOTHING. A second caller with the same key
waits on the unique index until the first transaction ends: if it committed, the second caller
gets the stored record and replays; if it rolled back, the second caller's insert goes through and
it performs the effect itself. Either way there is exactly one effect.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import connection
from django.utils import timezone

from apps.core.errors import IdempotencyKeyReused, InvalidRequest
from apps.core.models import IdempotencyRecord

MAX_KEY_LENGTH = 255
# One round trip. Returns the new record's id, or no row when the key was claimed before (a claim
# still in flight makes it wait for that transaction to end).
CLAIM = (
    f"INSERT INTO {IdempotencyRecord._meta.db_table} "
    "(merchant_id, key, operation, fingerprint, result, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (merchant_id, key) DO NOTHING RETURNING id"
)


def fingerprint(operation: str, request: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"operation": operation, "request": request}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise InvalidRequest(
            "An idempotency key is required for every change.", field="idempotency_key"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"Idempotency keys are at most {MAX_KEY_LENGTH} characters.", field="idempotency_key"
        )
    return key


def claim(
    *, merchant_id: int, key: str, operation: str, request: dict[str, Any], result: dict[str, Any]
) -> IdempotencyRecord | None:
    """Claim `key` for this request. Returns None when the caller must perform the effect, or
    the first call's record when this is a replay. Raises IdempotencyKeyReused when the key was
    used for a different request."""
    digest = fingerprint(operation, request)
    with connection.cursor() as cursor:
        cursor.execute(
            CLAIM,
            [merchant_id, key, operation, digest, json.dumps(result, default=str), timezone.now()],
        )
        if cursor.fetchone() is not None:
            return None
    record = IdempotencyRecord.objects.get(merchant_id=merchant_id, key=key)
    if record.fingerprint != digest:
        raise IdempotencyKeyReused(key=key, operation=record.operation)
    return record
