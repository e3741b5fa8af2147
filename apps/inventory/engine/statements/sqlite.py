"""The SQLite variant of the movement (the embedded defaults): one guarded UPDATE per level,
written out for SQLite rather than derived from the PostgreSQL statement."""

from __future__ import annotations

from typing import Any

from django.db import connection

from apps.inventory.engine.changes import Movement, MovementContext
from apps.inventory.engine.statements.levels import (
    RECEIVED_REASONS,
    REQUEST_COLUMNS,
    SOLD_REASONS,
    request_values,
)
from apps.inventory.engine.statements.tables import (
    STOCK_LEVEL,
)
from apps.inventory.models import (
    MAX_QUANTITY,
)

_RECEIVED = ", ".join(f"'{reason.value}'" for reason in RECEIVED_REASONS)
_SOLD = ", ".join(f"'{reason.value}'" for reason in SOLD_REASONS)
_EFFECTIVE_AT = "COALESCE(%(occurred_at)s, %(at)s)"

# SQLite (the embedded demo): the same guards and update for one movement, one row at a time
# (a receipt or a sale stamps the level as on PostgreSQL). The ledger and outbox rows follow in
# bulk (ORM). Returns the updated row (ROW_KEYS without
# the ledger entry id), or none when a guard refused it.
SQLITE_MOVE = f"""
    UPDATE {STOCK_LEVEL} SET
        on_hand = on_hand + %(d_on_hand)s,
        reserved = reserved + %(d_reserved)s,
        damaged = damaged + %(d_damaged)s,
        in_transit = in_transit + %(d_in_transit)s,
        version = version + 1,
        updated_at = %(at)s,
        last_received_at = CASE WHEN %(reason)s IN ({_RECEIVED})
            THEN MAX(COALESCE(last_received_at, {_EFFECTIVE_AT}), {_EFFECTIVE_AT})
            ELSE last_received_at END,
        last_sold_at = CASE WHEN %(reason)s IN ({_SOLD})
            THEN MAX(COALESCE(last_sold_at, {_EFFECTIVE_AT}), {_EFFECTIVE_AT})
            ELSE last_sold_at END
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
        # As Django writes datetimes to SQLite (text without an offset), so the stamps compare
        # and sort with the values the ORM wrote.
        "at": connection.ops.adapt_datetimefield_value(ctx.at),
        "occurred_at": connection.ops.adapt_datetimefield_value(ctx.occurred_at),
    }
