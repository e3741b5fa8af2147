"""The time the stock engine records on what it writes (ledger and outbox rows, reservations,
transfers): now, unless history is being loaded with `recorded_at`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_recorded_at: ContextVar[datetime | None] = ContextVar("stock_recorded_at", default=None)


def now() -> datetime:
    """The time of the change being made: `timezone.now()`, or the time `recorded_at` set."""
    return _recorded_at.get() or timezone.now()


@contextlib.contextmanager
def recorded_at(when: datetime) -> Iterator[None]:
    """Record the stock changes made in this block as made at `when` (a past, aware datetime).

    For loading history, such as the demo's 30 days (`seed_demo`); no API field or admin form
    reaches it. Every rule applies as at any other time (guards, idempotency, one ledger row per
    change; the ledger stays append-only). Load history in time order, before anything happens
    at the present time: the ledger's id order must stay its time order, as the as-of reports
    and snapshots take a level's last row before a moment as its balances then."""
    if timezone.is_naive(when):
        raise ValueError("recorded_at needs a timezone-aware datetime.")
    if when > timezone.now():
        raise ValueError(f"recorded_at({when.isoformat()}) is in the future.")
    token = _recorded_at.set(when)
    try:
        yield
    finally:
        _recorded_at.reset(token)
