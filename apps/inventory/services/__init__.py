"""The inventory service layer: the only code that changes stock.

Admin, API, tasks and consumers call these functions; they never write quantity columns
themselves. Every function is one transaction, takes an idempotency key, and raises an
`apps.inventory.exceptions.InventoryError` when it refuses (having changed nothing).
"""

from apps.inventory.services.idempotency import idempotency_prune
from apps.inventory.services.lines import StockLine
from apps.inventory.services.reservations import (
    ReservationLineRequest,
    reservation_commit,
    reservation_create,
    reservation_expire,
    reservation_expire_due,
    reservation_extend,
    reservation_release,
)
from apps.inventory.services.stock import (
    LEVEL_SETTINGS,
    StockChangeResult,
    stock_adjust,
    stock_count,
    stock_damage,
    stock_level_configure,
    stock_receive,
    stock_return,
    stock_ship,
    stock_write_off,
)
from apps.inventory.services.transfers import (
    TransferLineRequest,
    transfer_cancel,
    transfer_create,
    transfer_receive,
    transfer_ship,
)

__all__ = [
    "LEVEL_SETTINGS",
    "ReservationLineRequest",
    "StockChangeResult",
    "StockLine",
    "TransferLineRequest",
    "idempotency_prune",
    "reservation_commit",
    "reservation_create",
    "reservation_expire",
    "reservation_expire_due",
    "reservation_extend",
    "reservation_release",
    "stock_adjust",
    "stock_count",
    "stock_damage",
    "stock_level_configure",
    "stock_receive",
    "stock_return",
    "stock_ship",
    "stock_write_off",
    "transfer_cancel",
    "transfer_create",
    "transfer_receive",
    "transfer_ship",
]
