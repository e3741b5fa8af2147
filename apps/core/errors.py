"""The refusals every layer raises: a stable `code`, a `title`, the HTTP status an interface
answers with (`http_status`), and the figures a caller needs (what was asked, what was there,
what to do). A refused call has changed nothing.

Apps raise these, or subclasses of `DomainError` of their own (`apps.inventory.exceptions`);
interfaces map any of them by these class attributes alone (`apps.api.problems`).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every refusal."""

    code = "domain_error"
    title = "Operation refused"
    http_status = 409
    field: str | None = None

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.message, **self.details}

    def figures(self) -> dict[str, Any]:
        """The details published beside the message. `field` is reported as the offending field
        and `status` would clash with the HTTP status, so neither is a figure."""
        return {k: v for k, v in self.details.items() if k not in {"field", "status"}}


class InvalidRequest(DomainError):
    """Input that can never succeed as given (bad quantity, object of another merchant, ...)."""

    code = "invalid_request"
    title = "Invalid request"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        if field is not None:
            details["field"] = field
        super().__init__(message, **details)
        self.field = field


class ObjectNotFound(DomainError):
    code = "not_found"
    title = "Not found"
    http_status = 404


class InvalidState(DomainError):
    """An object (reservation, transfer, product, ...) is not in a state that allows the
    operation."""

    code = "invalid_state"
    title = "Operation not allowed in the current state"
    http_status = 409

    def __init__(self, message: str, *, status: str, **details: Any) -> None:
        super().__init__(message, status=status, **details)
        self.status = status

    def figures(self) -> dict[str, Any]:
        return {**super().figures(), "state": self.status}


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"
    http_status = 422

    def __init__(self, *, key: str, operation: str) -> None:
        super().__init__(
            f"Idempotency key '{key}' was already used for a different request ({operation}). "
            "Use a new key for a new request.",
            key=key,
            first_operation=operation,
        )
