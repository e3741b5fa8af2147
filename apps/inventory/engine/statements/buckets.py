"""Statements on stock buckets: a reservation that takes from one bucket, and batches of bucket
changes, each with its bucket ledger and outbox rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.inventory.engine.changes import BucketChange, MovementContext
from apps.inventory.engine.statements.levels import (
    HELD_RESERVATION,
    context_params,
    reservation_params,
)
from apps.inventory.engine.statements.tables import (
    BUCKET,
    BUCKET_LEDGER,
    LOCATION,
    OUTBOX,
    PRODUCT,
    RESERVATION_LINE,
    STOCK_LEVEL,
)
from apps.inventory.models import (
    BucketLedgerEntry,
)
from apps.inventory.outbox import BUCKET_CHANGED

# The bucket a reservation takes from: the first active bucket with room, counting from a
# starting bucket; either skipping those locked by other transactions, or (once all with room
# were locked) waiting for the one chosen.
_CHOOSE_BUCKET = f"""
    SELECT b.id FROM {BUCKET} AS b JOIN lvl ON b.stock_level_id = lvl.id
    WHERE b.number < lvl.bucket_count AND b.allotted - b.reserved >= %(quantity)s
    ORDER BY b.number >= %(start)s::integer %% lvl.bucket_count DESC, b.number
    LIMIT 1
"""
_SKIPPING_PICK = f"{_CHOOSE_BUCKET} FOR NO KEY UPDATE OF b SKIP LOCKED"
_WAITING_PICK = f"""
    SELECT w.id FROM {BUCKET} AS w WHERE w.id = ({_CHOOSE_BUCKET})
    FOR NO KEY UPDATE
"""

_BUCKET_LEDGER_INSERT_COLUMNS = """
    merchant_id, bucket_id, stock_level_id, reason, allotted_delta, reserved_delta,
    allotted_after, reserved_after, version_after, actor_id, actor_api_key_id,
    actor_api_key_name, source, reference, idempotency_key, created_at
"""


def bucket_reserve_statement(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
    sku: str,
    location_code: str,
    start: int,
    wait: bool = False,
) -> tuple[str, dict[str, Any]]:
    """One statement that takes `quantity` units from one bucket of the (product, location)
    level: the first of its active buckets, counting from `start` (modulo the bucket count),
    that has the room and is not locked by another transaction (SKIP LOCKED: no waiting). It
    writes the bucket's ledger row, an outbox row, the reservation and its line (which
    remembers the bucket): one round trip. The level row is read, never locked. Returns one row
    (level id, bucket id, line id), or none when no bucket qualifies (or the level has no
    buckets).

    `wait`: for when every bucket with room was locked (more concurrent reservations than
    buckets): the first bucket with room is chosen the same way, locked ones included, and
    the statement waits for that one bucket (a single row: no lock-order question), then
    re-checks its room."""
    params = context_params(ctx)
    params.update(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        start=start,
        sku=sku,
        location_code=location_code,
        reason=BucketLedgerEntry.Reason.RESERVE,
        bucket_topic=BUCKET_CHANGED,
        **reservation_params(reservation),
    )
    sql = f"""
        WITH lvl AS (
            SELECT l.id, l.bucket_count FROM {STOCK_LEVEL} AS l
            WHERE l.merchant_id = %(merchant_id)s AND l.product_id = %(product_id)s
                AND l.location_id = %(location_id)s AND l.bucket_count > 0
        ),
        picked AS ({_WAITING_PICK if wait else _SKIPPING_PICK}),
        moved AS (
            UPDATE {BUCKET} AS b
            SET reserved = b.reserved + %(quantity)s, version = b.version + 1
            FROM picked
            WHERE b.id = picked.id AND b.allotted - b.reserved >= %(quantity)s
            RETURNING b.id, b.stock_level_id, b.number, b.allotted, b.reserved, b.version
        ),
        entry AS (
            INSERT INTO {BUCKET_LEDGER} ({_BUCKET_LEDGER_INSERT_COLUMNS})
            SELECT %(merchant_id)s, id, stock_level_id, %(reason)s, 0, %(quantity)s,
                allotted, reserved, version, %(actor_id)s, %(api_key_id)s, %(api_key_name)s,
                %(source)s, %(reference)s, %(idempotency_key)s, %(at)s
            FROM moved
            RETURNING id
        ),
        event AS (
            INSERT INTO {OUTBOX} (merchant_id, topic, ledger_entry_id, payload,
                created_at)
            SELECT %(merchant_id)s, %(bucket_topic)s, NULL, jsonb_build_object(
                'stock_level_id', moved.stock_level_id,
                'product_id', %(product_id)s::bigint, 'sku', %(sku)s::text,
                'location_id', %(location_id)s::bigint, 'location', %(location_code)s::text,
                'bucket', moved.number, 'reason', %(reason)s::text,
                'delta', jsonb_build_object('allotted', 0, 'reserved', %(quantity)s::integer),
                'allotted', moved.allotted, 'reserved', moved.reserved,
                'version', moved.version, 'bucket_ledger_id', entry.id,
                'reference', %(reference)s::text), %(at)s
            FROM moved CROSS JOIN entry
        ),
        {HELD_RESERVATION},
        line AS (
            INSERT INTO {RESERVATION_LINE} (reservation_id, stock_level_id, product_id,
                location_id, quantity, bucket_id)
            SELECT held.id, moved.stock_level_id, %(product_id)s, %(location_id)s,
                %(quantity)s, moved.id
            FROM held CROSS JOIN moved
            RETURNING id
        )
        SELECT moved.stock_level_id, moved.id, line.id FROM moved CROSS JOIN line
    """
    return sql, params


# The savepoint a bucket pick runs in while this transaction does not hold the level yet (see
# apps.inventory.engine.reservations): sent in the pick's round trip with client-side binding.
PICK_SAVEPOINT = "SAVEPOINT stockroom_bucket_pick"
PICK_ROLLBACK = "ROLLBACK TO SAVEPOINT stockroom_bucket_pick"

# --- Bucket changes -------------------------------------------------------------------------

# Reasons whose bucket change moves availability, and so is published (fills and drains move
# units between a level and its buckets: the level's own ledger row is the event).
PUBLISHED_BUCKET_REASONS = (
    BucketLedgerEntry.Reason.RESERVE,
    BucketLedgerEntry.Reason.RELEASE,
    BucketLedgerEntry.Reason.EXPIRE,
)


def bucket_changes_statement(
    ordered: Sequence[BucketChange], ctx: MovementContext
) -> tuple[str, dict[str, Any]]:
    """The statement that applies `ordered` (distinct buckets, in primary-key order, locked by
    the caller when there are several): each guarded by 0 <= reserved <= allotted, with a
    bucket ledger row each and, for PUBLISHED_BUCKET_REASONS, an outbox row, in one round
    trip. Returns the product id of each bucket changed (none for a refused change)."""
    params = context_params(ctx)
    params.update(
        b_id=[c.bucket_id for c in ordered],
        b_reason=[c.reason for c in ordered],
        b_allotted=[c.allotted for c in ordered],
        b_reserved=[c.reserved for c in ordered],
        b_reference=[c.reference for c in ordered],
        published=list(PUBLISHED_BUCKET_REASONS),
        bucket_topic=BUCKET_CHANGED,
    )
    sql = f"""
        WITH r (bucket_id, reason, d_allotted, d_reserved, reference) AS (
            SELECT * FROM unnest(%(b_id)s::bigint[], %(b_reason)s::varchar[],
                %(b_allotted)s::integer[], %(b_reserved)s::integer[], %(b_reference)s::varchar[])
        ),
        moved AS (
            UPDATE {BUCKET} AS b
            SET allotted = b.allotted + r.d_allotted, reserved = b.reserved + r.d_reserved,
                version = b.version + 1
            FROM r
            WHERE b.id = r.bucket_id AND b.reserved + r.d_reserved >= 0
                AND b.reserved + r.d_reserved <= b.allotted + r.d_allotted
            RETURNING b.id, b.stock_level_id, b.number, b.allotted, b.reserved, b.version,
                r.reason, r.d_allotted, r.d_reserved, r.reference
        ),
        entry AS (
            INSERT INTO {BUCKET_LEDGER} ({_BUCKET_LEDGER_INSERT_COLUMNS})
            SELECT %(merchant_id)s, id, stock_level_id, reason, d_allotted, d_reserved,
                allotted, reserved, version, %(actor_id)s, %(api_key_id)s, %(api_key_name)s,
                %(source)s, reference, %(idempotency_key)s, %(at)s
            FROM moved
            RETURNING id, bucket_id, stock_level_id, reason, allotted_delta, reserved_delta,
                allotted_after, reserved_after, version_after, reference
        ),
        event AS (
            INSERT INTO {OUTBOX} (merchant_id, topic, ledger_entry_id, payload,
                created_at)
            SELECT %(merchant_id)s, %(bucket_topic)s, NULL, jsonb_build_object(
                'stock_level_id', e.stock_level_id, 'product_id', l.product_id, 'sku', p.sku,
                'location_id', l.location_id, 'location', loc.code,
                'bucket', b.number, 'reason', e.reason,
                'delta', jsonb_build_object('allotted', e.allotted_delta,
                    'reserved', e.reserved_delta),
                'allotted', e.allotted_after, 'reserved', e.reserved_after,
                'version', e.version_after, 'bucket_ledger_id', e.id,
                'reference', e.reference), %(at)s
            FROM entry AS e
            JOIN {BUCKET} AS b ON b.id = e.bucket_id
            JOIN {STOCK_LEVEL} AS l ON l.id = e.stock_level_id
            JOIN {PRODUCT} AS p ON p.id = l.product_id
            JOIN {LOCATION} AS loc ON loc.id = l.location_id
            WHERE e.reason = ANY(%(published)s::varchar[])
        )
        SELECT l.product_id FROM moved JOIN {STOCK_LEVEL} AS l ON l.id = moved.stock_level_id
    """
    return sql, params
