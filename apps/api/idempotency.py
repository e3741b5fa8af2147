"""Idempotent writes over HTTP (`Idempotency-Key` header).

Stock-changing services claim the key inside their own transaction. The API adds the first
response: after the service's transaction commits, a short UPDATE stores its status and body in
the same IdempotencyRecord (with the request's fingerprint in `result["request"]`), so a replay
returns exactly what the first call returned, and the same key with a different request is 422.
Writes that touch no stock (products, locations) claim the key here, in the transaction of
their effect, and store the response in it too.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F, Func, JSONField, Value
from django.http import HttpRequest, QueryDict
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import idempotency
from apps.core.db_errors import retry_on_conflict
from apps.core.errors import DomainError, IdempotencyKeyReused
from apps.core.models import IdempotencyRecord
from apps.inventory.exceptions import (
    CountBelowReserved,
    ExceedsMaxLevel,
    InsufficientStock,
    VersionConflict,
)
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
    return fingerprint_of(request, request.query_params, request.data)


def fingerprint_of(request: HttpRequest | Request, query: QueryDict, body: Any) -> str:
    """`request_fingerprint` for a request whose query and parsed body the caller has (a view
    that answers without DRF's request)."""
    canonical = json.dumps(
        {
            "method": request.method,
            "path": request.path,
            "query": sorted(query.lists()),
            "if_match": request.headers.get("If-Match"),
            "body": body,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# Response headers that belong to the answer and are replayed with it.
KEPT_HEADERS = ("ETag",)


def _stored(response: Response) -> dict[str, Any]:
    """The columns that keep a response: its status and its body as the client received it,
    parsed back to JSON (None for no body: a 204, or a 201 without content)."""
    body = JSONRenderer().render(response.data)  # b"" for None
    return {
        "response_status": response.status_code,
        "response_body": json.loads(body) if body else None,
    }


def _kept_headers(response: Response) -> dict[str, str]:
    return {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}


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
    headers = {**record.result.get("headers", {}), REPLAYED_HEADER: "true"}
    return Response(record.response_body, status=record.response_status, headers=headers)


class JSONMerge(Func):
    """`a || b` for two JSON objects (b's keys win), in one UPDATE."""

    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="(%(expressions)s)", arg_joiner=" || ", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="json_patch", **extra_context)


def remember_response(merchant: Merchant, key: str, fingerprint: str, response: Response) -> bool:
    """Store the first response of a successful write, with the request's fingerprint, in one
    statement. False (and nothing changed) when a response is stored already."""
    updated = IdempotencyRecord.objects.filter(
        merchant=merchant, key=key, response_status__isnull=True
    ).update(
        **_stored(response),
        result=JSONMerge(
            F("result"),
            Value(
                {"request": fingerprint, "headers": _kept_headers(response)},
                output_field=JSONField(),
            ),
        ),
    )
    return updated > 0


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
        # A deadlock or serialization failure rolled the service's transaction back, key
        # claim included: running it again is invisible and still exactly-once.
        response, replayed = retry_on_conflict(functools.partial(perform, key))
    except REFUSALS:
        # Stock refusals come from the guarded statements, after the service claimed the key
        # afresh: no earlier response can exist (a flash sale's late 409s stay one query short).
        raise
    except (exceptions.APIException, DomainError):
        stored = stored_response(request.merchant, key, fingerprint)
        if stored is not None:
            return stored
        raise
    if replayed:
        stored = stored_response(request.merchant, key, fingerprint)
        if stored is not None:
            return stored
        response.headers[REPLAYED_HEADER] = "true"
    elif response.status_code < 300 and not remember_response(
        request.merchant, key, fingerprint, response
    ):
        # A replay the service did not report (the transfer services return the transfer as
        # it is now): answer what the first call answered.
        stored = stored_response(request.merchant, key, fingerprint)
        if stored is not None:
            return stored
    return response


def plain_write(request: Request, operation: str, perform: Callable[[], Response]) -> Response:
    """Run a write that changes no stock (catalog, locations). The key is optional; when sent it
    is claimed in the transaction of the effect, with the response stored alongside. The
    transaction is run again after a deadlock or serialization failure."""
    key = request_key(request, required=False)
    if key is None:
        return retry_on_conflict(transaction.atomic(perform))
    fingerprint = request_fingerprint(request)
    stored = stored_response(request.merchant, key, fingerprint)
    if stored is not None:
        return stored
    return retry_on_conflict(
        functools.partial(_plain_write_once, request, operation, perform, key, fingerprint)
    )


@transaction.atomic
def _plain_write_once(
    request: Request, operation: str, perform: Callable[[], Response], key: str, fingerprint: str
) -> Response:
    previous = idempotency.claim(
        merchant_id=request.merchant.pk,
        key=key,
        operation=f"api:{operation}",
        request={"fingerprint": fingerprint},
        result={"request": fingerprint},
    )
    if previous is not None:
        # A concurrent first call committed while we waited; it stored its response in the
        # same transaction as its effect.
        stored = stored_response(request.merchant, key, fingerprint)
        if stored is None:
            raise IdempotencyKeyReused(key=key, operation=previous.operation)
        return stored
    response = perform()
    IdempotencyRecord.objects.filter(merchant=request.merchant, key=key).update(
        **_stored(response),
        result={"request": fingerprint, "headers": _kept_headers(response)},
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
                **_stored(response)
            )
