"""The figures of a stock level, named once for every reader: the stock list and the API show
them, refusals quote them (in the message and in the problem+json fields), alerts and reports
use them. Nothing here reads the database.

- `available`: what can be reserved or sold online,
  max(on_hand - reserved - safety_stock, 0) plus the free units of the level's buckets.
- `movable`: what a physical move (a sale at the counter, damage, a transfer out, a downward
  adjustment) may take: every unit on hand that no reservation holds, i.e. the available units
  plus the safety stock among them (the goods are really leaving).
- `damaged`, `in_transit`, `reserved` (units held by reservations): as on the level.
"""

from __future__ import annotations

from typing import Protocol


def available(*, on_hand: int, reserved: int, safety_stock: int, in_buckets: int = 0) -> int:
    """`reserved` as stored (free bucket units included), `in_buckets` those free units."""
    return max(on_hand - reserved - safety_stock, 0) + in_buckets


def movable(*, on_hand: int, reserved: int, in_buckets: int = 0) -> int:
    """`reserved` as stored (free bucket units included), `in_buckets` those free units."""
    return max(on_hand - reserved, 0) + in_buckets


class ShortFigures(Protocol):
    sku: str
    location: str | None
    requested: int
    available: int
    movable: int | None
    damaged: int | None
    in_transit: int | None
    reserved: int | None
    with_substitutes: int | None


def shortage_text(shortage: ShortFigures) -> str:
    """One refused line in words, naming the figures as the stock list does, e.g.
    `TEE at main-wh: requested 20, available 17 (19 on hand not reserved, 2 of them safety
    stock)`: a physical move may take the 19, a reservation only the 17."""
    where = f"{shortage.sku} at {shortage.location or 'any active location'}"
    text = f"{where}: requested {shortage.requested}"
    for name in ("damaged", "in_transit", "reserved"):
        units = getattr(shortage, name)
        if units is not None:
            return f"{text}, {name.replace('_', ' ')} {units}"
    text += f", available {shortage.available}"
    if shortage.movable is not None and shortage.movable > shortage.available:
        safety = shortage.movable - shortage.available
        text += f" ({shortage.movable} on hand not reserved, {safety} of them safety stock)"
    if shortage.with_substitutes is not None:
        text += f", and substitutes stand in for {shortage.with_substitutes} more"
    return text
