"""Primary/replica routing, active only when DATABASE_REPLICA_URL is set.

Reads go to the replica (availability, lists, reports) except where a caller must see its own
writes, which go to the primary:
- inside a transaction on the primary (every service runs in one: its reads and locks stay on
  the primary, in the same transaction);
- during a request with an unsafe method (POST, PUT, PATCH, DELETE);
- for a short while after such a request, for the same client (the pin cookie set by
  `ReplicaPinMiddleware`), so a client reading right after its write sees it;
- inside `use_primary()`.
Writes and migrations always go to the primary. When the replica stops answering, reads fall
back to the primary until it answers again (checked at most every
DATABASE_REPLICA_RECHECK_SECONDS per process).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest

logger = logging.getLogger(__name__)

REPLICA = "replica"
PIN_COOKIE = "stockroom_primary_pin"
PRIMARY_HEADER = "X-Read-From-Primary"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_pinned: ContextVar[bool] = ContextVar("stockroom_read_from_primary", default=False)


@contextmanager
def use_primary() -> Iterator[None]:
    """Route every read in the block to the primary (read-your-own-write paths)."""
    token = _pinned.set(True)
    try:
        yield
    finally:
        _pinned.reset(token)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class _ReplicaHealth:
    """Whether the replica answered at its last check; one thread re-checks at a time."""

    def __init__(self) -> None:
        self.available = True
        self.checked_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        due = time.monotonic() - self.checked_at >= settings.DATABASE_REPLICA_RECHECK_SECONDS
        if due and self._lock.acquire(blocking=False):
            try:
                self.available = self._check()
                self.checked_at = time.monotonic()
            finally:
                self._lock.release()
        return self.available

    def _check(self) -> bool:
        connection = connections[REPLICA]
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as error:
            connection.close_if_unusable_or_obsolete()
            if self.available:
                logger.error("read replica unreachable, reading from the primary: %s", error)
            return False
        if not self.available:
            logger.warning("read replica answers again")
        return True


replica_available = _ReplicaHealth()


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        if _pinned.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        instance = hints.get("instance")
        if instance is not None and instance._state.db == DEFAULT_DB_ALIAS:
            return DEFAULT_DB_ALIAS  # related lookups of an object read from the primary
        return REPLICA if replica_available() else DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # one database, two copies

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReplicaPinMiddleware:
    """Pins a request's reads to the primary when it writes, or when its client wrote less
    than DATABASE_REPLICA_PIN_SECONDS ago (cookie), or asks to (`X-Read-From-Primary: 1`)."""

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
        token = _pinned.set(self._pin(request))
        try:
            response = self.get_response(request)
        finally:
            _pinned.reset(token)
        return self._mark(request, response)

    async def _acall(self, request: HttpRequest):
        token = _pinned.set(self._pin(request))
        try:
            response = await self.get_response(request)
        finally:
            _pinned.reset(token)
        return self._mark(request, response)

    @staticmethod
    def _pin(request: HttpRequest) -> bool:
        return (
            request.method in UNSAFE_METHODS
            or PIN_COOKIE in request.COOKIES
            or request.headers.get(PRIMARY_HEADER) == "1"
        )

    @staticmethod
    def _mark(request: HttpRequest, response):
        if request.method in UNSAFE_METHODS and replica_configured() and response.status_code < 400:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
                secure=request.is_secure(),
                httponly=True,
                samesite="Lax",
            )
        return response
