"""Statements that create one-line reservations on a level: by ids (`reserve_statement`) and by
SKU and location code with the idempotency claim and the stored response
(`reserve_by_code_statement`)."""

from __future__ import annotations

from typing import Any

from apps.inventory.engine.changes import MovementContext
from apps.inventory.engine.statements.levels import (
    ENTRY_RESULT,
    HELD_RESERVATION,
    LEDGER_INSERT_COLUMNS,
    MOVED_ENTRY_EVENT,
    REQUEST_COLUMNS,
    compact,
    context_params,
    reservation_params,
)
from apps.inventory.engine.statements.tables import (
    IDEMPOTENCY,
    LEDGER,
    LOCATION,
    OUTBOX,
    PRODUCT,
    RESERVATION,
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
    return _RESERVE_BY_CODE, params


# Whitespace collapsed: psycopg caches how it parses a statement of at most 4,096 characters,
# and this one runs on every order.
_RESERVE_BY_CODE = compact(f"""
    WITH prior AS (
        SELECT fingerprint, result, response_status, response_body FROM {IDEMPOTENCY}
        WHERE merchant_id = %(merchant_id)s AND key = %(idempotency_key)s
            AND created_at >= %(retained_since)s
    ),
    t AS (
        SELECT p.id AS product_id, p.is_active, c.id AS location_id, c.status
        FROM (SELECT 1) AS one
        LEFT JOIN {PRODUCT} AS p ON p.merchant_id = %(merchant_id)s AND p.sku = %(sku)s
        LEFT JOIN {LOCATION} AS c ON c.merchant_id = %(merchant_id)s AND c.code = %(location_code)s
    ),
    lv AS (
        SELECT l.* FROM {STOCK_LEVEL} AS l JOIN t
            ON l.product_id = t.product_id AND l.location_id = t.location_id
        WHERE l.merchant_id = %(merchant_id)s
    ),
    moved AS (
        UPDATE {STOCK_LEVEL} AS s SET reserved = s.reserved + %(quantity)s,
            version = s.version + 1, updated_at = %(at)s
        FROM lv, t
        WHERE s.id = lv.id AND lv.bucket_count = 0 AND t.is_active AND t.status = %(active)s
            AND NOT EXISTS (SELECT FROM prior)
            AND s.on_hand - s.reserved - %(quantity)s >= s.safety_stock
        RETURNING s.*
    ),
    entry AS (
        INSERT INTO {LEDGER} ({LEDGER_INSERT_COLUMNS})
        SELECT %(merchant_id)s, id, product_id, location_id, %(reason)s, 0, %(quantity)s, 0, 0,
            on_hand, reserved, damaged, in_transit, safety_stock, version, %(actor_id)s,
            %(api_key_id)s, %(api_key_name)s, %(source)s, %(reference)s, '',
            %(idempotency_key)s, %(at)s, NULL
        FROM moved RETURNING id
    ),
    event AS (
        INSERT INTO {OUTBOX} (merchant_id, topic, ledger_entry_id, payload, created_at)
        SELECT %(merchant_id)s, %(topic)s, id, '{{}}', %(at)s FROM entry
    ),
    held AS (
        INSERT INTO {RESERVATION} (id, merchant_id, status, order_ref, expires_at, source,
            created_by_id, created_at, closed_at)
        SELECT %(reservation_id)s, %(merchant_id)s, %(status)s, %(order_ref)s, %(expires_at)s,
            %(source)s, %(actor_id)s, %(at)s, NULL
        FROM moved RETURNING id
    ),
    line AS (
        INSERT INTO {RESERVATION_LINE} (reservation_id, stock_level_id, product_id, location_id,
            quantity)
        SELECT held.id, moved.id, moved.product_id, moved.location_id, %(quantity)s
        FROM held, moved RETURNING id
    ),
    claimed AS (
        INSERT INTO {IDEMPOTENCY} (merchant_id, key, operation, fingerprint, result,
            response_status, response_body, created_at)
        SELECT %(merchant_id)s, %(idempotency_key)s, %(claim_operation)s,
            encode(sha256(convert_to(%(claim_fingerprint_prefix)s::text || moved.product_id
                || ', ' || moved.location_id || ', ' || %(quantity)s
                || %(claim_fingerprint_suffix)s::text, 'UTF8')), 'hex'),
            %(claim_result)s::jsonb, %(claim_response_status)s::smallint,
            %(claim_response_body)s::jsonb, %(at)s
        FROM moved
    )
    SELECT t.product_id, t.is_active, t.location_id, t.status, lv.id, lv.bucket_count,
        lv.on_hand, lv.reserved, lv.safety_stock, (SELECT id FROM line), (SELECT id FROM entry),
        prior.fingerprint, prior.result, prior.response_status, prior.response_body
    FROM t LEFT JOIN lv ON true LEFT JOIN prior ON true
""")


# The columns of the row `reserve_by_code_statement` returns.
BY_CODE_KEYS = (
    "product_id", "product_active", "location_id", "location_status", "stock_level_id",
    "bucket_count", "on_hand", "reserved", "safety_stock", "line_id", "ledger_entry_id",
    "prior_fingerprint", "prior_result", "prior_response_status", "prior_response_body",
)  # fmt: skip
