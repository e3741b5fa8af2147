"""The tables the engine's statements write, named by their models (`_meta.db_table`)."""

from __future__ import annotations

from apps.catalog.models import Product
from apps.core.models import IdempotencyRecord
from apps.inventory.models import (
    BucketLedgerEntry,
    LedgerEntry,
    OutboxEvent,
    Reservation,
    ReservationLine,
    StockBucket,
    StockLevel,
)
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
IDEMPOTENCY = IdempotencyRecord._meta.db_table
