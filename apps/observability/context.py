"""The request id of the work in progress: set per HTTP request and per Celery task, read by
the log filter and copied into the headers of every task published meanwhile."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("stockroom_request_id", default=None)

# What we accept from a client or a proxy: short, printable, no spaces (it lands in logs).
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(candidate: str | None) -> str:
    """The caller's id when it is safe to log as is, a fresh one otherwise."""
    if candidate and _VALID.match(candidate):
        return candidate
    return new_request_id()


def get_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> Token:
    return _request_id.set(value)


def reset_request_id(token: Token) -> None:
    _request_id.reset(token)
