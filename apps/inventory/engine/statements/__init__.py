"""Every hand-written SQL statement of the stock engine, with what it guards and what it returns.

Table names come from the models (`_meta.db_table`, `tables`). The PostgreSQL statements guard,
update and write their ledger and outbox rows in one round trip (`levels`, `reservations`,
`buckets`); the SQLite variant (the embedded demo) is written out in `sqlite`. Benchmarks drive
the very same builders (`movement_statement`, `reserve_statement`, `reserve_by_code_statement`,
`bucket_reserve_statement`) without the ORM.
"""

from apps.inventory.engine.statements.buckets import (
    PICK_ROLLBACK,
    PICK_SAVEPOINT,
    PUBLISHED_BUCKET_REASONS,
    bucket_changes_statement,
    bucket_reserve_statement,
)
from apps.inventory.engine.statements.levels import (
    LOCK_BUCKETS_IN_ORDER,
    LOCK_LEVELS_IN_ORDER,
    MOVEMENTS_PER_STATEMENT,
    REQUEST_COLUMNS,
    RESERVABLE,
    ROW_KEYS,
    context_params,
    create_levels_statement,
    movement_statement,
    request_values,
    reservation_params,
    row_dict,
)
from apps.inventory.engine.statements.reservations import (
    BY_CODE_KEYS,
    close_statement,
    reserve_by_code_statement,
    reserve_statement,
)
from apps.inventory.engine.statements.sqlite import SQLITE_MOVE, sqlite_move_params

__all__ = [
    "BY_CODE_KEYS",
    "LOCK_BUCKETS_IN_ORDER",
    "LOCK_LEVELS_IN_ORDER",
    "MOVEMENTS_PER_STATEMENT",
    "PICK_ROLLBACK",
    "PICK_SAVEPOINT",
    "PUBLISHED_BUCKET_REASONS",
    "REQUEST_COLUMNS",
    "RESERVABLE",
    "ROW_KEYS",
    "SQLITE_MOVE",
    "bucket_changes_statement",
    "bucket_reserve_statement",
    "close_statement",
    "context_params",
    "create_levels_statement",
    "movement_statement",
    "request_values",
    "reservation_params",
    "reserve_by_code_statement",
    "reserve_statement",
    "row_dict",
    "sqlite_move_params",
]
