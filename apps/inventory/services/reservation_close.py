"""Committing or releasing a reservation in one round trip.

An order's payment (commit) or cancellation (release) reads straight down: one statement, in
autocommit, changes the reservation's status (of concurrent closers exactly one wins), locks
its levels in the global order, moves their units, writes the ledger and outbox rows, and
claims the idempotency key together with the answer a retry must get. Nothing runs in Python
while the levels are locked.

Everything else (a key seen before, a reservation expired, closed or holding bucket units,
SQLite) is left to the transactional services
(`reservation_commit`, `reservation_release`), which explain it exactly.
"""

from __future__ import annotations

import uuid

from django.db import connection

from apps.core import idempotency
from apps.inventory.engine.reservations import close_in_one_statement
from apps.inventory.models import LedgerEntry, Source
from apps.inventory.services.stock import Actor, movement_context
from apps.merchants.models import Merchant

OPERATIONS = {True: "reservation.commit", False: "reservation.release"}
REASONS = {True: LedgerEntry.Reason.COMMIT, False: LedgerEntry.Reason.RELEASE}


def reservation_close_at_once(
    *,
    merchant: Merchant,
    reservation_id: uuid.UUID | str,
    commit: bool,
    actor: Actor,
    idempotency_key: str,
    request: str,
    source: str = Source.SYSTEM,
) -> str | None:
    """Commit (`commit=True`) or release the reservation in one statement. Returns the
    reservation as the API writes it (JSON text) (stored with the key, with `request`, the caller's
    fingerprint of its request, for replays), or None, having written nothing, when the
    transactional service must answer."""
    if connection.vendor != "postgresql":
        return None
    key = idempotency.validate_key(idempotency_key)
    try:
        reservation_id = uuid.UUID(str(reservation_id))
    except ValueError:
        return None
    ctx = movement_context(merchant, actor, source, key)
    operation = OPERATIONS[commit]
    closed = close_in_one_statement(
        merchant_id=merchant.pk,
        reservation_id=reservation_id,
        commit=commit,
        reason=REASONS[commit],
        ctx=ctx,
        operation=operation,
        # The fingerprint the transactional service computes for the same call.
        fingerprint=idempotency.fingerprint(operation, {"reservation": str(reservation_id)}),
        request=request,
        retained_since=idempotency.retained_since(ctx.at),
    )
    if closed is None or closed.document is None:
        return None
    return closed.document
