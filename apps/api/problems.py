"""One error format for the whole API: RFC 9457 `application/problem+json`.

Every refusal (domain errors from the services, DRF's own validation, authentication,
throttling, routing and parsing errors) comes out as
`{type, title, status, detail, code, fields, ...figures}`; `fields` maps each offending field
(dotted path, e.g. `lines.0.quantity`) to its messages. A domain error says itself what it
answers (`apps.core.errors.DomainError`: code, title, HTTP status, field and figures).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.core.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"

DRF_CODES: dict[type[exceptions.APIException], tuple[str, str]] = {
    exceptions.ValidationError: ("invalid_request", "Invalid request"),
    exceptions.ParseError: ("malformed_request", "Malformed request body"),
    exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication required"),
    exceptions.PermissionDenied: ("permission_denied", "Permission denied"),
    exceptions.NotFound: ("not_found", "Not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    exceptions.Throttled: ("throttled", "Too many requests"),
}


def problem(
    *,
    status_code: int,
    code: str,
    title: str,
    detail: str,
    fields: dict[str, list[str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": f"urn:stockroom:problem:{code}",
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        "fields": fields or {},
        **extra,
    }


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as {"lines.0.quantity": ["..."]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if key == "non_field_errors" and prefix:
                path = prefix  # an error about the nested object (or list) as a whole
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_errors(value, path))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            if item:  # list serializers report an empty dict for lines without errors
                out.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def domain_problem(error: DomainError) -> dict[str, Any]:
    return problem(
        status_code=error.http_status,
        code=error.code,
        title=error.title,
        detail=error.message,
        fields={error.field: [error.message]} if error.field else None,
        **error.figures(),
    )


def request_limit_problem(exc: Exception) -> dict[str, Any] | None:
    """The problem for a request over Django's limits, or None: 413 for a body over
    `DATA_UPLOAD_MAX_MEMORY_SIZE`, 400 for more query parameters or form fields than
    `DATA_UPLOAD_MAX_NUMBER_FIELDS` (or files than `DATA_UPLOAD_MAX_NUMBER_FILES`)."""
    if isinstance(exc, RequestDataTooBig):
        return problem(
            status_code=413,
            code="request_too_large",
            title="Request too large",
            detail=f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} "
            "bytes. Send it in several calls (e.g. fewer bulk lines or events per call).",
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return problem(
            status_code=400,
            code="too_many_fields",
            title="Too many fields",
            detail="The request has more than "
            f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} query parameters or form fields (or "
            f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files).",
        )
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error as problem+json. Unknown exceptions propagate
    (a bug is a 500 and is logged, never disguised)."""
    if isinstance(exc, DomainError):
        set_rollback()
        return problem_response(domain_problem(exc))
    too_large = request_limit_problem(exc)
    if too_large is not None:
        return problem_response(too_large)
    if isinstance(exc, DataError):
        # e.g. a NUL byte PostgreSQL cannot store: bad input, not a server fault
        set_rollback()
        return problem_response(
            problem(
                status_code=400,
                code="invalid_value",
                title="Invalid request",
                detail="A value in the request cannot be stored or compared (e.g. a NUL character).",
            )
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    code, title = next(
        (pair for cls, pair in DRF_CODES.items() if isinstance(exc, cls)),
        (exc.default_code, "Request refused"),
    )
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(int(exc.wait + 0.999), 1))
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        detail = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())
        body = problem(
            status_code=exc.status_code, code=code, title=title, detail=detail, fields=fields
        )
    else:
        body = problem(status_code=exc.status_code, code=code, title=title, detail=str(exc.detail))
    return problem_response(body, headers)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400 (Django's answer to a SuspiciousOperation raised outside an API view, e.g.
    by middleware): a problem for paths under /api/, Django's page elsewhere."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    body = request_limit_problem(exception) if exception is not None else None
    if body is None:
        body = problem(
            status_code=400,
            code="bad_request",
            title="Bad request",
            detail="The request was refused as malformed or unsafe (e.g. an unknown Host).",
        )
    return JsonResponse(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: a problem for paths under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            problem(
                status_code=404,
                code="not_found",
                title="Not found",
                detail=f"No API endpoint at {request.path}.",
            ),
            status=404,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    return defaults.page_not_found(request, exception)
