"""What a database error means, and the ones a retry fixes.

PostgreSQL aborts a transaction that deadlocked (SQLSTATE 40P01) or that could not be
serialized against a concurrent one (40001); run again from its start, it normally succeeds.
`retry_on_conflict` does that for a whole unit of work that opens and commits its own
transaction and is idempotent (a service call claiming its idempotency key in that
transaction): the failed attempt was rolled back entirely, key included, so the retry is
exactly-once and the caller never sees the first attempt.

`classify` names every other failure truly for the client: a lock or statement timeout, a
server out of connections, a lost connection; see `FAILURES`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from psycopg_pool import PoolTimeout

logger = logging.getLogger(__name__)
T = TypeVar("T")

DEADLOCK = "40P01"
SERIALIZATION_FAILURE = "40001"
RETRIED = frozenset({DEADLOCK, SERIALIZATION_FAILURE})
# Jittered back-off before retry n (n = 1, 2, ...): uniform in [0, BACKOFF_SECONDS * 2**(n-1)].
BACKOFF_SECONDS = 0.05


@dataclass(frozen=True)
class DatabaseFailure:
    """How a database error is answered: 503 problem+json with this code and Retry-After."""

    code: str
    title: str
    detail: str
    conflict: bool = False  # a collision with concurrent writes (retry soon), not an outage

    @property
    def retry_after(self) -> int:
        return 1 if self.conflict else settings.STOCKROOM_RETRY_AFTER_SECONDS


NOTHING_APPLIED = "It was rolled back: nothing was applied."
FAILURES = {
    failure.code: failure
    for failure in (
        DatabaseFailure(
            "deadlock_detected",
            "Deadlock with a concurrent change",
            "This change deadlocked with concurrent changes to the same rows, also when run "
            f"again. {NOTHING_APPLIED}",
            conflict=True,
        ),
        DatabaseFailure(
            "serialization_failure",
            "Conflict with a concurrent change",
            "This change could not be serialized with concurrent changes to the same rows, also "
            f"when run again. {NOTHING_APPLIED}",
            conflict=True,
        ),
        DatabaseFailure(
            "lock_timeout",
            "Lock wait timed out",
            "Rows this change needs stayed locked by other work for longer than the database "
            f"waits for a lock (lock_timeout). {NOTHING_APPLIED}",
        ),
        DatabaseFailure(
            "statement_timeout",
            "Database statement timed out",
            f"A statement ran longer than the database's statement_timeout. {NOTHING_APPLIED}",
        ),
        DatabaseFailure(
            "query_canceled",
            "Database statement canceled",
            f"The database canceled a statement of this request. {NOTHING_APPLIED}",
        ),
        DatabaseFailure(
            "too_many_connections",
            "Database out of connections",
            "The database refused a new connection: it has as many open as it allows.",
        ),
        DatabaseFailure(
            "connection_pool_exhausted",
            "No database connection free",
            "Every pooled database connection stayed busy for DATABASE_POOL_TIMEOUT seconds.",
        ),
        DatabaseFailure(
            "database_out_of_resources",
            "Database out of resources",
            f"The database ran out of disk, memory or another resource. {NOTHING_APPLIED}",
        ),
        DatabaseFailure(
            "database_unavailable",
            "Service temporarily unavailable",
            "The database did not answer.",
        ),
        DatabaseFailure(
            "database_error",
            "Database error",
            f"The database failed this request. {NOTHING_APPLIED}",
        ),
    )
}


BY_SQLSTATE = {
    DEADLOCK: "deadlock_detected",
    SERIALIZATION_FAILURE: "serialization_failure",
    "55P03": "lock_timeout",  # lock_not_available: lock_timeout, or NOWAIT
    "53300": "too_many_connections",
}
BY_SQLSTATE_CLASS = {
    "08": "database_unavailable",  # connection exception
    "57": "database_unavailable",  # operator intervention: shutdown, crash, starting up
    "53": "database_out_of_resources",
}


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and its causes (Django wraps the driver's error as the cause of its own)."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, None when the server sent none (connection
    failures)."""
    for cause in _causes(error):
        code = getattr(cause, "sqlstate", None)
        if code:
            return code
    return None


def _name(error: Exception) -> str:
    code = sqlstate(error)
    if code == "57014":  # query_canceled: a statement timeout, or pg_cancel_backend()
        return "statement_timeout" if "statement timeout" in str(error) else "query_canceled"
    if code in BY_SQLSTATE:
        return BY_SQLSTATE[code]
    if code and code[:2] in BY_SQLSTATE_CLASS:
        return BY_SQLSTATE_CLASS[code[:2]]
    if code:
        return "database_error"
    # No SQLSTATE: the connection could not be made or was lost, or the pool had none free.
    if any(isinstance(cause, PoolTimeout) for cause in _causes(error)):
        return "connection_pool_exhausted"
    message = str(error)
    if "too many connections" in message or "too many clients" in message:
        return "too_many_connections"
    if "database is locked" in message:  # SQLite (embedded defaults): its busy timeout ran out
        return "lock_timeout"
    return "database_unavailable"


def classify(error: Exception) -> DatabaseFailure:
    return FAILURES[_name(error)]


# Failures that mean the database cannot be reached at all (as opposed to a statement it
# refused): reads with a fallback (the last known availability, the last known API key) use it.
UNREACHABLE = frozenset(
    {"database_unavailable", "too_many_connections", "connection_pool_exhausted"}
)


def is_unreachable(error: BaseException) -> bool:
    """A database error that means the database cannot be reached now (down, restarting, out
    of connections), whatever the statement."""
    return isinstance(error, OperationalError | InterfaceError) and _name(error) in UNREACHABLE


class Outage:
    """This process's view of whether the database can be reached, for reads that have a
    fallback. After a failure to reach it (`failed`), `should_try` is False for
    `STOCKROOM_DB_OUTAGE_BACKOFF_SECONDS`: those reads use their fallback at once instead of
    each waiting for a connection timeout. Then one caller at a time tries the database again
    (the others keep the fallback); its success (`recovered`) ends the outage."""

    def __init__(self) -> None:
        self.down_until = 0.0  # 0: no outage known
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        with self._lock:
            first = self.down_until == 0.0
            self.down_until = time.monotonic() + settings.STOCKROOM_DB_OUTAGE_BACKOFF_SECONDS
        if first:
            logger.warning("database unreachable, reads fall back where they can: %s", error)

    def should_try(self) -> bool:
        with self._lock:
            if self.down_until == 0.0:
                return True
            now = time.monotonic()
            if now < self.down_until:
                return False
            # This caller tries; the others keep their fallback until it has an answer.
            self.down_until = now + settings.STOCKROOM_DB_OUTAGE_BACKOFF_SECONDS
            return True

    def recovered(self) -> None:
        if self.down_until != 0.0:
            with self._lock:
                self.down_until = 0.0
            logger.warning("database reachable again")

    @property
    def suspected(self) -> bool:
        return self.down_until != 0.0


database_outage = Outage()


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and sqlstate(error) in RETRIED


def retry_on_conflict(operation: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS) -> T:
    """Run `operation` and return its result, running it again (up to
    `STOCKROOM_DB_RETRY_ATTEMPTS` in all, after a jittered back-off) while PostgreSQL aborts it
    with a deadlock or a serialization failure; the last such error is raised.

    `operation` must open and commit its own transaction and be safe to run again once that
    was rolled back (an idempotent service call). Called inside an atomic block it runs once:
    the failed statement aborted the enclosing transaction too, and only whoever opened that
    one can start it again."""
    if connections[using].in_atomic_block:
        return operation()
    attempts = max(settings.STOCKROOM_DB_RETRY_ATTEMPTS, 1)
    for attempt in range(1, attempts):
        try:
            return operation()
        except OperationalError as error:
            if not is_retryable(error):
                raise
            logger.warning(
                "%s: running it again (attempt %d of %d)",
                _name(error),
                attempt + 1,
                attempts,
                extra={"sqlstate": sqlstate(error), "attempt": attempt + 1},
            )
        time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** (attempt - 1)))
    return operation()
