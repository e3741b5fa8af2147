"""Every hand-written SQL statement of the stock engine, with what it guards and what it returns.

Table names come from the models (`_meta.db_table`). The PostgreSQL statements guard, update
and write their ledger and outbox rows in one round trip; the SQLite variant (the embedded
demo) is written out below them. Benchmarks drive the very same builders (`movement_statement`,
`reserve_statement`, `bucket_reserve_statement`) without the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.catalog.models import Product
from apps.inventory.engine.changes import BucketChange, Movement, MovementContext
from apps.inventory.models import (
    MAX_QUANTITY,
    BucketLedgerEntry,
    LedgerEntry,
    OutboxEvent,
    Reservation,
    ReservationLine,
    StockBucket,
    StockLevel,
)
from apps.inventory.outbox import BUCKET_CHANGED, STOCK_CHANGED
from apps.locations.models import Location

STOCK_LEVEL = StockLevel._meta.db_table
LEDGER = LedgerEntry._meta.db_table
BUCKET = StockBucket._meta.db_table
BUCKET_LEDGER = BucketLedgerEntry._meta.db_table
RESERVATION = Reservation._meta.db_table
RESERVATION_LINE = ReservationLine._meta.db_table
OUTBOX = OutboxEvent._meta.db_table
PRODUCT = Product._meta.db_table
LOCATION = Location._meta.db_table

# --- Provisioning and locks -----------------------------------------------------------------


def create_levels_statement(
    constants: Sequence[tuple[str, Any]], pairs: Sequence[tuple[int, int]]
) -> tuple[str, list[Any]]:
    """Insert empty levels for (product_id, location_id) `pairs` in the order given, every other
    column at the value in `constants` ((column, value) pairs); a level created meanwhile by
    another transaction is left alone (ON CONFLICT DO NOTHING). One round trip whatever the
    number of pairs (they travel as arrays). Returns no rows."""
    columns = ", ".join(column for column, _ in constants)
    parameter_marks = ", ".join(["%s"] * len(constants))
    sql = (
        f"INSERT INTO {STOCK_LEVEL} ({columns}, product_id, location_id) "
        f"SELECT {parameter_marks}, pair.product_id, pair.location_id "
        "FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY "
        "AS pair(product_id, location_id, position) ORDER BY pair.position "
        "ON CONFLICT DO NOTHING"
    )
    return sql, [
        *(value for _, value in constants),
        [p for p, _ in pairs],
        [loc for _, loc in pairs],
    ]


# Locks the stock levels whose ids are the array parameter, in primary-key order (the global
# lock order), with the lock an UPDATE takes. Returns their ids.
LOCK_LEVELS_IN_ORDER = (
    f"SELECT id FROM {STOCK_LEVEL} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE"
)
# The same for buckets (taken after their levels').
LOCK_BUCKETS_IN_ORDER = f"SELECT id FROM {BUCKET} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE"

# One consistent snapshot (no lock) of what a reservation could take at the level of
# (merchant_id, product_id, location_id): the level's id, its bucket count, its own available
# units and the free units in its buckets. No row when the level does not exist.
RESERVABLE = (
    "SELECT l.id, l.bucket_count, GREATEST(l.on_hand - l.reserved - l.safety_stock, 0), "
    f"COALESCE((SELECT SUM(b.allotted - b.reserved) FROM {BUCKET} AS b "
    "WHERE b.stock_level_id = l.id), 0) "
    f"FROM {STOCK_LEVEL} AS l "
    "WHERE l.merchant_id = %s AND l.product_id = %s AND l.location_id = %s"
)

# --- Movements on stock levels --------------------------------------------------------------

# The guards every movement passes (the CHECK constraints are the last line behind them), on
# a level row `s` and a request row `r` (the columns of REQUEST_COLUMNS).
_GUARDS = f"""
    s.on_hand + r.d_on_hand >= 0
    AND s.reserved + r.d_reserved >= 0
    AND s.damaged + r.d_damaged >= 0
    AND s.in_transit + r.d_in_transit >= 0
    AND s.on_hand + r.d_on_hand <= {MAX_QUANTITY}
    AND s.damaged + r.d_damaged <= {MAX_QUANTITY}
    AND s.in_transit + r.d_in_transit <= {MAX_QUANTITY}
    AND s.reserved + r.d_reserved <= s.on_hand + r.d_on_hand
    AND (NOT r.check_safety
         OR s.on_hand + r.d_on_hand - s.reserved - r.d_reserved >= s.safety_stock)
    AND (NOT r.check_max OR s.max_level IS NULL OR s.on_hand + r.d_on_hand <= s.max_level)
    AND (r.expected_version IS NULL OR s.version = r.expected_version)
    AND (r.expected_on_hand IS NULL OR s.on_hand = r.expected_on_hand)
"""

_SET = """
    on_hand = s.on_hand + r.d_on_hand,
    reserved = s.reserved + r.d_reserved,
    damaged = s.damaged + r.d_damaged,
    in_transit = s.in_transit + r.d_in_transit,
    version = s.version + 1,
    updated_at = %(at)s
"""

REQUEST_COLUMNS = (
    "stock_level_id", "reason", "d_on_hand", "d_reserved", "d_damaged", "d_in_transit",
    "check_safety", "check_max", "expected_version", "expected_on_hand", "reference", "note",
)  # fmt: skip
_REQUEST_TYPES = (
    "bigint", "varchar", "integer", "integer", "integer", "integer",
    "boolean", "boolean", "bigint", "integer", "varchar", "varchar",
)  # fmt: skip

_LEDGER_INSERT_COLUMNS = """
    merchant_id, stock_level_id, product_id, location_id, reason,
    on_hand_delta, reserved_delta, damaged_delta, in_transit_delta,
    on_hand_after, reserved_after, damaged_after, in_transit_after, safety_stock_after,
    version_after, actor_id, actor_api_key_id, actor_api_key_name, source, reference, note,
    idempotency_key, created_at, occurred_at
"""


def request_values(m: Movement) -> tuple[Any, ...]:
    """A movement as a request row (the columns of REQUEST_COLUMNS)."""
    return (
        m.stock_level_id, m.reason, m.on_hand, m.reserved, m.damaged, m.in_transit,
        m.respect_safety_stock, m.respect_max_level, m.expected_version, m.expected_on_hand,
        m.reference, m.note,
    )  # fmt: skip


def context_params(ctx: MovementContext) -> dict[str, Any]:
    return {
        "merchant_id": ctx.merchant_id,
        "actor_id": ctx.actor_id,
        "api_key_id": ctx.api_key_id,
        "api_key_name": ctx.api_key_name,
        "occurred_at": ctx.occurred_at,
        "source": ctx.source,
        "idempotency_key": ctx.idempotency_key,
        "at": ctx.at,
        "topic": STOCK_CHANGED,
    }


# Requests travel as arrays (no parameter limit); chunks keep each statement's work bounded.
MOVEMENTS_PER_STATEMENT = 10_000

# The new balances, read from the ledger rows just written (no join back to `moved`: joins of
# data-modifying CTEs are planned blind and would be quadratic on large batches).
_ENTRY_RESULT = """entry.stock_level_id, entry.product_id, entry.location_id, entry.on_hand_after,
    entry.reserved_after, entry.damaged_after, entry.in_transit_after, entry.safety_stock_after,
    entry.version_after, entry.id"""
# The names of those columns, as `row_dict` keys.
ROW_KEYS = (
    "stock_level_id", "product_id", "location_id", "on_hand", "reserved", "damaged",
    "in_transit", "safety_stock", "version", "ledger_entry_id",
)  # fmt: skip


def row_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A result row of a movement statement (or of the SQLite update, with the ledger entry id
    appended) by column name."""
    return dict(zip(ROW_KEYS, row, strict=True))


def reservation_params(reservation: dict[str, Any]) -> dict[str, Any]:
    """The parameters of `_HELD_RESERVATION` (and the ledger reference) for `reservation`."""
    return {
        "reference": f"reservation:{reservation['id']}",
        "reservation_id": reservation["id"],
        "order_ref": reservation["order_ref"],
        "expires_at": reservation["expires_at"],
        "status": reservation["status"],
    }


# The new reservation, inserted once the guarded update (`moved`) let its units through.
_HELD_RESERVATION = f"""
        held AS (
            INSERT INTO {RESERVATION} (id, merchant_id, status, order_ref, expires_at,
                source, created_by_id, created_at, closed_at)
            SELECT %(reservation_id)s, %(merchant_id)s, %(status)s, %(order_ref)s,
                %(expires_at)s, %(source)s, %(actor_id)s, %(at)s, NULL
            FROM moved
            RETURNING id
        )"""
# Given a CTE `r` of requests (the columns of REQUEST_COLUMNS): the guarded update, its ledger
# rows and its outbox rows, as CTEs `moved`, `entry` and `event`.
_MOVED_ENTRY_EVENT = f"""
        moved AS (
            UPDATE {STOCK_LEVEL} AS s SET {_SET}
            FROM r
            WHERE s.id = r.stock_level_id AND s.merchant_id = %(merchant_id)s AND {_GUARDS}
            RETURNING s.id AS stock_level_id, s.product_id, s.location_id, s.on_hand, s.reserved,
                s.damaged, s.in_transit, s.safety_stock, s.version, r.reason, r.d_on_hand,
                r.d_reserved, r.d_damaged, r.d_in_transit, r.reference, r.note
        ),
        entry AS (
            INSERT INTO {LEDGER} ({_LEDGER_INSERT_COLUMNS})
            SELECT %(merchant_id)s, stock_level_id, product_id, location_id, reason,
                d_on_hand, d_reserved, d_damaged, d_in_transit,
                on_hand, reserved, damaged, in_transit, safety_stock,
                version, %(actor_id)s, %(api_key_id)s, %(api_key_name)s, %(source)s, reference,
                note, %(idempotency_key)s, %(at)s, %(occurred_at)s::timestamptz
            FROM moved
            RETURNING id, stock_level_id, product_id, location_id, on_hand_after, reserved_after,
                damaged_after, in_transit_after, safety_stock_after, version_after
        ),
        event AS (
            INSERT INTO {OUTBOX} (merchant_id, topic, ledger_entry_id, payload, created_at)
            SELECT %(merchant_id)s, %(topic)s, id, '{{}}'::jsonb, %(at)s FROM entry
        )"""


def movement_statement(
    movements: Sequence[Movement], ctx: MovementContext
) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL statement (and its parameters) that applies `movements` (at most
    MOVEMENTS_PER_STATEMENT, of the merchant of `ctx`, their levels locked by the caller when
    there are several): every guard, the update, one ledger row and one outbox row per level,
    in one round trip. The requests travel as one array per column (unnest), so the statement's
    text is the same for any number of movements. Returns a row (ROW_KEYS) per movement that
    passed its guards; a refused movement returns none and changes nothing."""
    params = context_params(ctx)
    columns = list(zip(*(request_values(m) for m in movements), strict=True))
    arrays = []
    for column, sql_type, values in zip(REQUEST_COLUMNS, _REQUEST_TYPES, columns, strict=True):
        params[f"r_{column}"] = list(values)
        arrays.append(f"%(r_{column})s::{sql_type}[]")
    sql = f"""
        WITH r ({", ".join(REQUEST_COLUMNS)}) AS (SELECT * FROM unnest({", ".join(arrays)})),
        {_MOVED_ENTRY_EVENT}
        SELECT {_ENTRY_RESULT} FROM entry
    """
    return sql, params


# SQLite (the embedded demo): the same guards and update for one movement, one row at a time.
# The ledger and outbox rows follow in bulk (ORM). Returns the updated row (ROW_KEYS without
# the ledger entry id), or none when a guard refused it.
SQLITE_MOVE = f"""
    UPDATE {STOCK_LEVEL} SET
        on_hand = on_hand + %(d_on_hand)s,
        reserved = reserved + %(d_reserved)s,
        damaged = damaged + %(d_damaged)s,
        in_transit = in_transit + %(d_in_transit)s,
        version = version + 1,
        updated_at = %(at)s
    WHERE id = %(stock_level_id)s AND merchant_id = %(merchant_id)s
        AND on_hand + %(d_on_hand)s >= 0
        AND reserved + %(d_reserved)s >= 0
        AND damaged + %(d_damaged)s >= 0
        AND in_transit + %(d_in_transit)s >= 0
        AND on_hand + %(d_on_hand)s <= {MAX_QUANTITY}
        AND damaged + %(d_damaged)s <= {MAX_QUANTITY}
        AND in_transit + %(d_in_transit)s <= {MAX_QUANTITY}
        AND reserved + %(d_reserved)s <= on_hand + %(d_on_hand)s
        AND (NOT %(check_safety)s
             OR on_hand + %(d_on_hand)s - reserved - %(d_reserved)s >= safety_stock)
        AND (NOT %(check_max)s OR max_level IS NULL OR on_hand + %(d_on_hand)s <= max_level)
        AND (%(expected_version)s IS NULL OR version = %(expected_version)s)
        AND (%(expected_on_hand)s IS NULL OR on_hand = %(expected_on_hand)s)
    RETURNING id, product_id, location_id, on_hand, reserved, damaged, in_transit,
        safety_stock, version
"""


def sqlite_move_params(m: Movement, ctx: MovementContext) -> dict[str, Any]:
    """The parameters of SQLITE_MOVE for one movement."""
    return {
        **dict(zip(REQUEST_COLUMNS, request_values(m), strict=True)),
        "merchant_id": ctx.merchant_id,
        "at": ctx.at,
    }


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
        {_MOVED_ENTRY_EVENT},
        {_HELD_RESERVATION},
        line AS (
            INSERT INTO {RESERVATION_LINE} (reservation_id, stock_level_id, product_id,
                location_id, quantity)
            SELECT held.id, moved.stock_level_id, moved.product_id, moved.location_id,
                moved.d_reserved
            FROM held CROSS JOIN moved
            RETURNING id
        )
        SELECT {_ENTRY_RESULT}, line.id FROM entry CROSS JOIN line
    """
    return sql, params


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
        {_HELD_RESERVATION},
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
