"""The inventory service layer: the only code that changes stock.

Admin, API, tasks and consumers call these functions; they never write quantity columns
themselves (the engine, `apps.inventory.engine`, does it for them). Every function is one
transaction, takes an idempotency key, and raises an `apps.core.errors.DomainError` when it
refuses (having changed nothing).
"""

from apps.inventory.services.clock import recorded_at
from apps.inventory.services.lines import StockLine
from apps.inventory.services.removal import stock_level_remove
from apps.inventory.services.reservation_by_code import (
    FirstResponse,
    reservation_create_by_code,
)
from apps.inventory.services.reservation_close import reservation_close_at_once
from apps.inventory.services.reservations import (
    ReservationLineRequest,
    reservation_commit,
    reservation_create,
    reservation_expire,
    reservation_expire_due,
    reservation_extend,
    reservation_release,
)
from apps.inventory.services.returns import ReturnLineRequest, reservation_return
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
    Shipping,
    TransferLineRequest,
    transfer_cancel,
    transfer_create,
    transfer_move,
    transfer_receive,
    transfer_ship,
)

__all__ = [
    "LEVEL_SETTINGS",
    "FirstResponse",
    "ReservationLineRequest",
    "ReturnLineRequest",
    "Shipping",
    "StockChangeResult",
    "StockLine",
    "TransferLineRequest",
    "recorded_at",
    "reservation_close_at_once",
    "reservation_commit",
    "reservation_create",
    "reservation_create_by_code",
    "reservation_expire",
    "reservation_expire_due",
    "reservation_extend",
    "reservation_release",
    "reservation_return",
    "stock_adjust",
    "stock_count",
    "stock_damage",
    "stock_level_configure",
    "stock_level_remove",
    "stock_receive",
    "stock_return",
    "stock_ship",
    "stock_write_off",
    "transfer_cancel",
    "transfer_create",
    "transfer_move",
    "transfer_receive",
    "transfer_ship",
]
