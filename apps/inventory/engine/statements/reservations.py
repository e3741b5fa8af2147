"""Statements that create one-line reservations on a level: by ids (`reserve_statement`) and by
SKU and location code with the idempotency claim and the stored response
(`reserve_by_code_statement`)."""

from __future__ import annotations

from typing import Any

from apps.inventory.engine.changes import MovementContext
from apps.inventory.engine.statements.levels import (
    ENTRY_RESULT,
    HELD_RESERVATION,
    MOVED_ENTRY_EVENT,
    REQUEST_COLUMNS,
    context_params,
    reservation_params,
)
from apps.inventory.engine.statements.tables import (
    IDEMPOTENCY,
    LOCATION,
    PRODUCT,
    RESERVATION_LINE,
    STOCK_LEVEL,
)
from apps.inventory.models import (
    LedgerEntry,
)
from apps.locations.models import Location

# --- Reservations ---------------------------------------------------------------------------


def reserve_statement(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
) -> tuple[str, dict[str, Any]]:
    """One statement that finds the stock level of (product, location), reserves `quantity`
    under the usual guards (safety stock respected), writes the ledger and outbox rows, and
    inserts the reservation and its line, all only if the guarded update happened: one round
    trip, the level's lock held from here to COMMIT. Returns one row (ROW_KEYS, then the line
    id), or none when refused, when the level does not exist, or when it has buckets on (its
    one-line reservations go to `bucket_reserve_statement`)."""
    params = context_params(ctx)
    params.update(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        reason=LedgerEntry.Reason.RESERVE,
        **reservation_params(reservation),
    )
    sql = f"""
        WITH r ({", ".join(REQUEST_COLUMNS)}) AS (
            SELECT l.id, %(reason)s::varchar, 0, %(quantity)s::integer, 0, 0, true, false,
                NULL::bigint, NULL::integer, %(reference)s::varchar, ''::varchar
            FROM {STOCK_LEVEL} AS l
            WHERE l.merchant_id = %(merchant_id)s AND l.product_id = %(product_id)s
                AND l.location_id = %(location_id)s AND l.bucket_count = 0
        ),
        {MOVED_ENTRY_EVENT},
        {HELD_RESERVATION},
        line AS (
            INSERT INTO {RESERVATION_LINE} (reservation_id, stock_level_id, product_id,
                location_id, quantity)
            SELECT held.id, moved.stock_level_id, moved.product_id, moved.location_id,
                moved.d_reserved
            FROM held CROSS JOIN moved
            RETURNING id
        )
        SELECT {ENTRY_RESULT}, line.id FROM entry CROSS JOIN line
    """
    return sql, params


def reserve_by_code_statement(
    *,
    sku: str,
    location_code: str,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
    claim: dict[str, Any],
    retained_since: Any,
) -> tuple[str, dict[str, Any]]:
    """A whole one-line reservation named by SKU and location code, in ONE statement (its own
    transaction in autocommit, so the level row is locked only while the statement runs and
    commits, with no client round trip in between): it resolves the codes within the merchant,
    reads the idempotency key, and, when the key is new, the product active and the location
    taking reservations, reserves `quantity` on the level under the usual guards (safety stock
    respected), writes the ledger and outbox rows, inserts the reservation and its line, and
    claims the key with the response to replay (`claim`: operation, result, response_status,
    response_body), all only if the guarded update happened. The claim's fingerprint is the
    SHA-256 of `claim["fingerprint_prefix"]`, "<product_id>, <location_id>, <quantity>" and
    `claim["fingerprint_suffix"]`: the canonical request of `apps.core.idempotency`, whose ids
    only the statement knows.

    A concurrent call with the same key is refused by the key's unique index (the whole
    statement is undone): the caller then takes the transactional path, which waits for and
    replays the first call. A level with buckets is left alone (`bucket_reserve_statement`).

    Returns exactly one row (BY_CODE_KEYS): what the statement found (product, location, level
    and its figures in the statement's snapshot, the key's earlier record when retained) and
    what it wrote (line and ledger ids, None when nothing was)."""
    params = context_params(ctx)
    params.update(
        sku=sku,
        location_code=location_code,
        quantity=quantity,
        reason=LedgerEntry.Reason.RESERVE,
        active=Location.Status.ACTIVE,
        retained_since=retained_since,
        **reservation_params(reservation),
        **{f"claim_{name}": value for name, value in claim.items()},
    )
    sql = f"""
        WITH prior AS (
            SELECT fingerprint, result, response_status, response_body FROM {IDEMPOTENCY}
            WHERE merchant_id = %(merchant_id)s AND key = %(idempotency_key)s
                AND created_at >= %(retained_since)s
        ),
        target AS (
            SELECT p.id AS product_id, p.is_active, loc.id AS location_id,
                loc.status AS location_status
            FROM (SELECT 1) AS one
            LEFT JOIN {PRODUCT} AS p ON p.merchant_id = %(merchant_id)s AND p.sku = %(sku)s
            LEFT JOIN {LOCATION} AS loc
                ON loc.merchant_id = %(merchant_id)s AND loc.code = %(location_code)s
        ),
        r ({", ".join(REQUEST_COLUMNS)}) AS (
            SELECT l.id, %(reason)s::varchar, 0, %(quantity)s::integer, 0, 0, true, false,
                NULL::bigint, NULL::integer, %(reference)s::varchar, ''::varchar
            FROM {STOCK_LEVEL} AS l JOIN target AS t
                ON l.product_id = t.product_id AND l.location_id = t.location_id
            WHERE l.merchant_id = %(merchant_id)s AND l.bucket_count = 0 AND t.is_active
                AND t.location_status = %(active)s AND NOT EXISTS (SELECT FROM prior)
        ),
        {MOVED_ENTRY_EVENT},
        {HELD_RESERVATION},
        line AS (
            INSERT INTO {RESERVATION_LINE} (reservation_id, stock_level_id, product_id,
                location_id, quantity)
            SELECT held.id, moved.stock_level_id, moved.product_id, moved.location_id,
                moved.d_reserved
            FROM held CROSS JOIN moved
            RETURNING id
        ),
        claimed AS (
            INSERT INTO {IDEMPOTENCY} (merchant_id, key, operation, fingerprint, result,
                response_status, response_body, created_at)
            SELECT %(merchant_id)s, %(idempotency_key)s, %(claim_operation)s,
                encode(sha256(convert_to(%(claim_fingerprint_prefix)s::text
                    || moved.product_id::text || ', ' || moved.location_id::text || ', '
                    || %(quantity)s::text || %(claim_fingerprint_suffix)s::text, 'UTF8')), 'hex'),
                %(claim_result)s::jsonb, %(claim_response_status)s::smallint,
                %(claim_response_body)s::jsonb, %(at)s
            FROM moved
        )
        SELECT t.product_id, t.is_active, t.location_id, t.location_status, lv.id,
            lv.bucket_count, lv.on_hand, lv.reserved, lv.safety_stock,
            (SELECT id FROM line), (SELECT id FROM entry),
            pr.fingerprint, pr.result, pr.response_status, pr.response_body
        FROM target AS t
        LEFT JOIN {STOCK_LEVEL} AS lv ON lv.merchant_id = %(merchant_id)s
            AND lv.product_id = t.product_id AND lv.location_id = t.location_id
        LEFT JOIN prior AS pr ON true
    """
    return sql, params


# The columns of the row `reserve_by_code_statement` returns.
BY_CODE_KEYS = (
    "product_id", "product_active", "location_id", "location_status", "stock_level_id",
    "bucket_count", "on_hand", "reserved", "safety_stock", "line_id", "ledger_entry_id",
    "prior_fingerprint", "prior_result", "prior_response_status", "prior_response_body",
)  # fmt: skip
