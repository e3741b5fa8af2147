"""Idempotency keys: claimed in the same transaction as the effect they guard.

`claim` inserts (merchant, key) with ON CONFLICT DO NOTHING. A second caller with the same key
waits on the unique index until the first transaction ends: if it committed, the second caller
gets the stored record and replays; if it rolled back, the second caller's insert goes through and
it performs the effect itself. Either way there is exactly one effect.

A key is kept STOCKROOM_IDEMPOTENCY_RETENTION_HOURS. Past that it is new again: `claim` takes
over the old record (one conditional UPDATE, so exactly one caller does) whether or not
`idempotency_prune` has deleted it yet, so what a key means never depends on when the prune
last ran. Keys within the window take the path above, unchanged.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
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
    used for a different request. A key claimed longer ago than the retention window is
    claimed afresh (the effect is performed again)."""
    digest = fingerprint(operation, request)
    encoded = json.dumps(result, default=str)
    while True:
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(CLAIM, [merchant_id, key, operation, digest, encoded, now])
            if cursor.fetchone() is not None:
                return None
        record = IdempotencyRecord.objects.filter(merchant_id=merchant_id, key=key).first()
        if record is None:
            continue  # pruned meanwhile: claim it again
        cutoff = retained_since(now)
        if record.created_at < cutoff:
            # Past the retention window: the key is new again, as if pruned. A conditional
            # UPDATE, so that of two callers with this key exactly one takes it over (the
            # other waits for its row lock, then replays it, or takes it if that rolled back).
            taken = IdempotencyRecord.objects.filter(pk=record.pk, created_at__lt=cutoff).update(
                operation=operation,
                fingerprint=digest,
                result=json.loads(encoded),
                response_status=None,
                response_body=None,
                created_at=now,
            )
            if taken:
                return None
            record = IdempotencyRecord.objects.filter(pk=record.pk).first()
            if record is None:
                continue
        if record.fingerprint != digest:
            raise IdempotencyKeyReused(key=key, operation=record.operation)
        return record


def retained_since(now: datetime | None = None) -> datetime:
    """Records created before this are past the retention window: their keys are new."""
    hours = settings.STOCKROOM_IDEMPOTENCY_RETENTION_HOURS
    return (now or timezone.now()) - timedelta(hours=hours)


def idempotency_prune(*, batch_size: int = 5000) -> int:
    """Delete the records past the retention window (their keys are new already), in short
    batches. Safe to run concurrently and repeatedly, and beside `claim`: a record taken over
    meanwhile is no longer past the window and stays. Returns how many were deleted."""
    cutoff = retained_since()
    deleted = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        stale = IdempotencyRecord.objects.filter(pk__in=ids, created_at__lt=cutoff)
        deleted += stale.delete()[0]
