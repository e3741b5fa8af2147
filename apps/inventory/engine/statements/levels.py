"""Statements on stock levels: provisioning, locks in the global order, and the guarded movement
(update, ledger and outbox rows in one round trip), with the fragments the other statements
build on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.inventory.engine.changes import Movement, MovementContext
from apps.inventory.engine.statements.tables import (
    BUCKET,
    LEDGER,
    OUTBOX,
    RESERVATION,
    STOCK_LEVEL,
)
from apps.inventory.models import (
    MAX_QUANTITY,
    LedgerEntry,
)
from apps.inventory.outbox import STOCK_CHANGED


def compact(sql: str) -> str:
    """`sql` with every run of whitespace made one space (a statement's text, shorter to parse
    and to cache; no literal in the engine's SQL holds two spaces in a row)."""
    return " ".join(sql.split())


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

LEDGER_INSERT_COLUMNS = """
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
ENTRY_RESULT = """entry.stock_level_id, entry.product_id, entry.location_id, entry.on_hand_after,
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
    """The parameters of `HELD_RESERVATION` (and the ledger reference) for `reservation`."""
    return {
        "reference": f"reservation:{reservation['id']}",
        "reservation_id": reservation["id"],
        "order_ref": reservation["order_ref"],
        "expires_at": reservation["expires_at"],
        "status": reservation["status"],
    }


# The new reservation, inserted once the guarded update (`moved`) let its units through.
HELD_RESERVATION = f"""
        held AS (
            INSERT INTO {RESERVATION} (id, merchant_id, status, order_ref, expires_at,
                source, created_by_id, created_at, closed_at)
            SELECT %(reservation_id)s, %(merchant_id)s, %(status)s, %(order_ref)s,
                %(expires_at)s, %(source)s, %(actor_id)s, %(at)s, NULL
            FROM moved
            RETURNING id
        )"""


def _moved_entry_event(set_clause: str) -> str:
    """Given a CTE `r` of requests (the columns of REQUEST_COLUMNS): the guarded update (setting
    `set_clause`), its ledger rows and its outbox rows, as CTEs `moved`, `entry` and `event`."""
    return f"""
        moved AS (
            UPDATE {STOCK_LEVEL} AS s SET {set_clause}
            FROM r
            WHERE s.id = r.stock_level_id AND s.merchant_id = %(merchant_id)s AND {_GUARDS}
            RETURNING s.id AS stock_level_id, s.product_id, s.location_id, s.on_hand, s.reserved,
                s.damaged, s.in_transit, s.safety_stock, s.version, r.reason, r.d_on_hand,
                r.d_reserved, r.d_damaged, r.d_in_transit, r.reference, r.note
        ),
        entry AS (
            INSERT INTO {LEDGER} ({LEDGER_INSERT_COLUMNS})
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


# The one-line reservation statements build on this (a reservation neither receives nor sells).
MOVED_ENTRY_EVENT = _moved_entry_event(_SET)

# Movements that receive or sell also stamp the level: the latest moment a receipt (from a
# supplier or a transfer) or a sale (direct, or a committed reservation) took effect.
RECEIVED_REASONS = (LedgerEntry.Reason.RECEIVE, LedgerEntry.Reason.TRANSFER_IN)
SOLD_REASONS = (LedgerEntry.Reason.SALE, LedgerEntry.Reason.COMMIT)
_EFFECTIVE_AT = "COALESCE(%(occurred_at)s::timestamptz, %(at)s)"
_STAMPS = f"""
    last_received_at = CASE WHEN r.reason IN ({", ".join(f"'{r.value}'" for r in RECEIVED_REASONS)})
        THEN GREATEST(s.last_received_at, {_EFFECTIVE_AT}) ELSE s.last_received_at END,
    last_sold_at = CASE WHEN r.reason IN ({", ".join(f"'{r.value}'" for r in SOLD_REASONS)})
        THEN GREATEST(s.last_sold_at, {_EFFECTIVE_AT}) ELSE s.last_sold_at END
"""
MOVED_ENTRY_EVENT_STAMPED = _moved_entry_event(f"{_SET}, {_STAMPS}")


def movement_statement(
    movements: Sequence[Movement], ctx: MovementContext
) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL statement (and its parameters) that applies `movements` (at most
    MOVEMENTS_PER_STATEMENT, of the merchant of `ctx`, their levels locked by the caller when
    there are several): every guard, the update, one ledger row and one outbox row per level,
    in one round trip; a receipt or a sale also stamps the level's `last_received_at` or
    `last_sold_at`. The requests travel as one array per column (unnest), so the statement's
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
        {MOVED_ENTRY_EVENT_STAMPED}
        SELECT {ENTRY_RESULT} FROM entry
    """
    return sql, params
