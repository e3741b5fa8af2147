"""Request middleware: request ids, latency metrics, and a clean 503 when the database fails.

`RequestIdMiddleware` goes first in MIDDLEWARE (it times everything below it);
`DatabaseUnavailableMiddleware` goes last, next to the views, whose exceptions it maps.
"""

from __future__ import annotations

import json
import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from apps.core import db_errors
from apps.observability import metrics
from apps.observability.context import clean_request_id, reset_request_id, set_request_id

logger = logging.getLogger(__name__)
# One line per request (JSON in production, with the request id). Silence it with
# LOGGING["loggers"]["stockroom.access"] = {"level": "WARNING"} when the proxy logs requests.
access_logger = logging.getLogger("stockroom.access")
REQUEST_ID_HEADER = "X-Request-ID"
# The latency histogram's series by (method, route, status), looked up once each: the labelled
# child is what every request observes.
_latency: dict[tuple[str, str, str], object] = {}
PROBLEM_JSON = "application/problem+json"


class RequestIdMiddleware:
    """Gives every request an id (the caller's `X-Request-ID` when it is sane), returns it in
    the response, and records the latency by route (the URL pattern, never the raw path)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self._acall(request)
        token, started = self._begin(request)
        try:
            response = self.get_response(request)
            self._end(request, response, started)
            return response
        finally:
            reset_request_id(token)

    async def _acall(self, request: HttpRequest):
        token, started = self._begin(request)
        try:
            response = await self.get_response(request)
            self._end(request, response, started)
            return response
        finally:
            reset_request_id(token)

    @staticmethod
    def _begin(request: HttpRequest):
        request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        return set_request_id(request_id), time.perf_counter()

    @staticmethod
    def _end(request: HttpRequest, response: HttpResponse, started: float) -> None:
        elapsed = time.perf_counter() - started
        response[REQUEST_ID_HEADER] = request.request_id
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else "unmatched"
        labels = (request.method, route, str(response.status_code))
        latency = _latency.get(labels)
        if latency is None:
            latency = _latency.setdefault(labels, metrics.REQUEST_LATENCY.labels(*labels))
        latency.observe(elapsed)
        if access_logger.isEnabledFor(logging.INFO):
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "request_id": request.request_id,
                },
            )
        if _is_refused_reservation(request, response, route):
            metrics.count("reservations_refused")


def _is_refused_reservation(request: HttpRequest, response: HttpResponse, route: str) -> bool:
    """A create-reservation call (POST to a `.../reservations/` collection) answered 409 with
    a problem+json body whose code is insufficient_stock."""
    if request.method != "POST" or response.status_code != 409:
        return False
    if not route.rstrip("/").endswith("reservations"):
        return False
    if getattr(response, "streaming", False):
        return False
    if not response.get("Content-Type", "").startswith(
        ("application/problem+json", "application/json")
    ):
        return False
    try:
        return json.loads(response.content).get("code") == "insufficient_stock"
    except (ValueError, AttributeError):
        return False


def database_failure_response(
    failure: db_errors.DatabaseFailure, request: HttpRequest | None = None
) -> HttpResponse:
    body = {
        "type": f"urn:stockroom:problem:{failure.code}",
        "title": failure.title,
        "status": 503,
        "code": failure.code,
        "detail": f"{failure.detail} Retry after {failure.retry_after} seconds with the same "
        "Idempotency-Key: a change that was applied is replayed, never applied twice.",
        "fields": {},
    }
    request_id = getattr(request, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    response = HttpResponse(json.dumps(body), status=503, content_type=PROBLEM_JSON)
    response["Retry-After"] = str(failure.retry_after)
    return response


class DatabaseUnavailableMiddleware:
    """Maps a database error raised by a view to 503 problem+json with Retry-After, named for
    what happened (`database_unavailable` for a lost or refused connection, `deadlock_detected`
    for a deadlock that persisted through the retries, `lock_timeout`, `statement_timeout`,
    `too_many_connections`, ...: see apps.core.db_errors). The transaction was rolled back;
    Django drops a broken connection when the request finishes, and the pool opens fresh
    ones, so the service recovers by itself."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, OperationalError | InterfaceError):
            if db_errors.is_unreachable(exception):
                db_errors.database_outage.failed(exception)  # reads with a fallback use it
            failure = db_errors.classify(exception)
            logger.warning("%s: %s", failure.code, exception, extra={"path": request.path})
            return database_failure_response(failure, request)
        return None
