"""What a caller asks of the engine: a `Movement` per stock level (signed deltas and the guards
they must pass), a `BucketChange` per bucket, and the `MovementContext` of the batch (who, from
where, under which idempotency key, when); and a `CodedReservation`, one order of a batch
reserved by SKU and location code in one statement."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime


@dataclasses.dataclass(frozen=True)
class Movement:
    """Signed deltas for one stock level and the guards they must pass.

    Always guarded: no quantity below zero or above MAX_QUANTITY, reserved <= on_hand.
    `respect_safety_stock`: on_hand - reserved must stay >= safety_stock (reservations).
    `respect_max_level`: on_hand must stay <= max_level when one is set (receipts).
    `expected_version` / `expected_on_hand`: compare-and-set against the current row.
    `requested` is the caller's quantity, quoted back in errors.
    """

    stock_level_id: int
    reason: str
    requested: int
    on_hand: int = 0
    reserved: int = 0
    damaged: int = 0
    in_transit: int = 0
    respect_safety_stock: bool = False
    respect_max_level: bool = False
    expected_version: int | None = None
    expected_on_hand: int | None = None
    reference: str = ""
    note: str = ""


@dataclasses.dataclass(frozen=True)
class MovementContext:
    """Who asked (a user, or an API key recorded by id and name), through which channel, under
    which idempotency key, and when."""

    merchant_id: int
    actor_id: int | None
    source: str
    idempotency_key: str
    at: datetime
    api_key_id: int | None = None
    api_key_name: str = ""
    # When the change took effect, if earlier than `at` (a late feed event): the ledger's
    # occurred_at.
    occurred_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class BucketChange:
    """Signed deltas for one bucket. Always guarded: 0 <= reserved <= allotted."""

    bucket_id: int
    reason: str
    allotted: int = 0
    reserved: int = 0
    reference: str = ""


@dataclasses.dataclass(frozen=True)
class CodedReservation:
    """One order reserving `quantity` of a SKU at a location named by code, as one request of
    `reserve_by_code_statement`: the new reservation's fields, who asks, its idempotency key,
    and what the key's claim stores (`result` and the response to replay as JSON text, the
    canonical request around its line for the fingerprint)."""

    idempotency_key: str
    quantity: int
    reservation_id: uuid.UUID
    order_ref: str
    expires_at: datetime
    at: datetime
    actor_id: int | None
    api_key_id: int | None
    api_key_name: str
    source: str
    result: str
    response_status: int | None
    response_body: str | None
    fingerprint_prefix: str
    fingerprint_suffix: str
