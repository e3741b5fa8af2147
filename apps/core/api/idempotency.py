"""Idempotent writes over HTTP (`Idempotency-Key` header).

Stock-changing services claim the key inside their own transaction. The API adds the first
response: after the service's transaction commits, a short UPDATE stores its status and body in
the same IdempotencyRecord (with the request's fingerprint in `result["request"]`), so a replay
returns exactly what the first call returned, and the same key with a different request is 422.
Writes that touch no stock (products, locations) claim the key here, in the transaction of
their effect, and store the response in it too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F, Func, JSONField, Value
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.inventory.exceptions import (
    CountBelowReserved,
    ExceedsMaxLevel,
    IdempotencyKeyReused,
    InsufficientStock,
    InventoryError,
    VersionConflict,
)
from apps.inventory.models import IdempotencyRecord
from apps.inventory.services import idempotency
from apps.merchants.models import Merchant

# Raised only after a service's claim succeeded, i.e. for a key never used before.
REFUSALS = (InsufficientStock, CountBelowReserved, ExceedsMaxLevel, VersionConflict)
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = idempotency.MAX_KEY_LENGTH


def request_key(request: Request, *, required: bool) -> str | None:
    key = (request.headers.get(HEADER) or "").strip()
    if not key:
        if required:
            raise exceptions.ValidationError(
                {
                    HEADER: [
                        f"This request changes stock: send an '{HEADER}' header (e.g. a UUID) "
                        "so that a retry cannot apply it twice."
                    ]
                }
            )
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError({HEADER: [f"At most {MAX_KEY_LENGTH} characters."]})
    return key


def request_fingerprint(request: Request) -> str:
    """What makes two requests "the same": method, path, query, conditional header and body."""
    canonical = json.dumps(
        {
            "method": request.method,
            "path": request.path,
            "query": sorted(request.query_params.lists()),
            "if_match": request.headers.get("If-Match"),
            "body": request.data,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _as_json(data: Any) -> Any:
    return json.loads(JSONRenderer().render(data))


def stored_response(merchant: Merchant, key: str, fingerprint: str) -> Response | None:
    """The first response for this key, or None when there is none yet. Raises
    IdempotencyKeyReused when the key was used for a different request."""
    record = (
        IdempotencyRecord.objects.filter(
            merchant=merchant, key=key, created_at__gte=idempotency.retained_since()
        )
        .only("operation", "result", "response_status", "response_body")
        .first()
    )
    if record is None or record.response_status is None:
        return None
    if record.result.get("request") != fingerprint:
        raise IdempotencyKeyReused(key=key, operation=record.operation)
    return Response(
        record.response_body, status=record.response_status, headers={REPLAYED_HEADER: "true"}
    )


class JSONMerge(Func):
    """`a || b` for two JSON objects (b's keys win), in one UPDATE."""

    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="(%(expressions)s)", arg_joiner=" || ", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="json_patch", **extra_context)


def remember_response(merchant: Merchant, key: str, fingerprint: str, response: Response) -> None:
    """Store the first response of a successful write (a no-op if one is already stored), with
    the request's fingerprint, in one statement."""
    IdempotencyRecord.objects.filter(
        merchant=merchant, key=key, response_status__isnull=True
    ).update(
        response_status=response.status_code,
        response_body=_as_json(response.data),
        result=JSONMerge(F("result"), Value({"request": fingerprint}, output_field=JSONField())),
    )


def stock_write(request: Request, perform: Callable[[str], tuple[Response, bool]]) -> Response:
    """Run a stock-changing service call. `perform(key)` calls the service (which claims the
    key) and returns (response, replayed). The key is required.

    The stored response is looked up only when it can exist: when the service reports a
    replay, or when the call fails (a retry of a request that succeeded answers what it
    answered then, even if the same request would fail now). A first call goes straight to
    the service, whose claim decides, race-free, whether this is a replay."""
    key = request_key(request, required=True)
    fingerprint = request_fingerprint(request)
    try:
        response, replayed = perform(key)
    except REFUSALS:
        # Stock refusals come from the guarded statements, after the service claimed the key
        # afresh: no earlier response can exist (a flash sale's late 409s stay one query short).
        raise
    except (exceptions.APIException, InventoryError):
        stored = stored_response(request.merchant, key, fingerprint)
        if stored is not None:
            return stored
        raise
    if replayed:
        stored = stored_response(request.merchant, key, fingerprint)
        if stored is not None:
            return stored
        response.headers[REPLAYED_HEADER] = "true"
    elif response.status_code < 300:
        remember_response(request.merchant, key, fingerprint, response)
    return response


def plain_write(request: Request, operation: str, perform: Callable[[], Response]) -> Response:
    """Run a write that changes no stock (catalog, locations). The key is optional; when sent it
    is claimed in the transaction of the effect, with the response stored alongside."""
    key = request_key(request, required=False)
    if key is None:
        with transaction.atomic():
            return perform()
    fingerprint = request_fingerprint(request)
    stored = stored_response(request.merchant, key, fingerprint)
    if stored is not None:
        return stored
    with transaction.atomic():
        previous = idempotency.claim(
            merchant_id=request.merchant.pk,
            key=key,
            operation=f"api:{operation}",
            request={"fingerprint": fingerprint},
            result={"request": fingerprint},
        )
        if previous is not None:
            # A concurrent first call committed while we waited; it stored its response in
            # the same transaction as its effect.
            stored = stored_response(request.merchant, key, fingerprint)
            if stored is None:
                raise IdempotencyKeyReused(key=key, operation=previous.operation)
            return stored
        response = perform()
        IdempotencyRecord.objects.filter(merchant=request.merchant, key=key).update(
            response_status=response.status_code, response_body=_as_json(response.data)
        )
    return response


def claim_and_remember(
    request: Request, key: str, fingerprint: str, operation: str, response: Response
) -> None:
    """For writes whose effects dedupe themselves (the event feed): claim the key after the
    fact and store the response, so that a replay returns it. A concurrent claim wins."""
    with transaction.atomic():
        previous = idempotency.claim(
            merchant_id=request.merchant.pk,
            key=key,
            operation=f"api:{operation}",
            request={"fingerprint": fingerprint},
            result={"request": fingerprint},
        )
        if previous is None:
            IdempotencyRecord.objects.filter(merchant=request.merchant, key=key).update(
                response_status=response.status_code, response_body=_as_json(response.data)
            )
