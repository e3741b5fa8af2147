"""Writes of the reports app: daily snapshots, and imports applied through the services."""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from datetime import date, timedelta
from decimal import Decimal

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Product
from apps.core import embedded_scheduler
from apps.core.errors import DomainError
from apps.inventory import services as inventory
from apps.inventory.models import LedgerEntry, Source
from apps.locations.models import Location
from apps.merchants.models import Merchant
from apps.reports import imports
from apps.reports.models import ImportBatch, StockSnapshot
from apps.reports.selectors import BALANCE_COLUMNS, balances_sql

logger = logging.getLogger(__name__)
Status = ImportBatch.Status
CHUNK_ROWS = 500
IMPORT_TASK = "apps.reports.tasks.import_run"
READ_BATCHES_PER_RUN = 20

# --- Daily snapshots ----------------------------------------------------------------------


@transaction.atomic
def snapshot_take(*, day: date) -> int:
    """Store every stock level's balances at the end of `day` (UTC) in one set-based
    INSERT ... SELECT: the previous snapshot plus the ledger rows since (the whole ledger when
    there is no earlier snapshot). Idempotent: the day's rows are replaced in the same
    transaction, so running it twice gives the same rows. Returns the number of rows."""
    if day > timezone.now().date():
        raise ValueError(f"{day} is in the future: there is nothing to snapshot yet.")
    balances, params = balances_sql(LedgerEntry.objects.all(), day, StockSnapshot.objects.all())
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM reports_stocksnapshot WHERE date = %s", [day])
        cursor.execute(
            f"INSERT INTO reports_stocksnapshot (date, {BALANCE_COLUMNS}) "
            f"SELECT %s, {BALANCE_COLUMNS} FROM ({balances}) b",
            (day, *params),
        )
        return cursor.rowcount


# --- Imports ------------------------------------------------------------------------------


def import_upload(
    *,
    merchant: Merchant,
    kind: str,
    filename: str,
    content: bytes,
    user: User,
    location_ids: set[int] | None = None,
) -> ImportBatch:
    """Keep an uploaded file to be read and validated in the background, and queue that after
    commit: the request that uploads never parses (a crafted file can take long). Raises
    imports.ImportFileError at once for what needs no reading (too large, not CSV/XLSX).
    Changes no product or stock."""
    imports.check_upload(filename, len(content))
    batch = ImportBatch.objects.create(
        merchant=merchant,
        kind=kind,
        status=Status.READING,
        filename=_printable(filename)[:255],
        uploaded_by=user,
        content=content,
        location_ids=None if location_ids is None else sorted(location_ids),
    )
    transaction.on_commit(functools.partial(_queue_read, batch.pk), robust=True)
    return batch


def _printable(text: str) -> str:
    """A file name as it can be stored and shown (no NUL or other control characters)."""
    return "".join(char for char in text if char.isprintable()) or "upload"


def _queue_read(batch_id: uuid.UUID) -> None:
    """Read the file in a worker; without a broker, in the embedded scheduler's thread. What
    cannot be queued is read by the periodic `import_read_waiting`."""
    if settings.STOCKROOM_EMBEDDED:
        embedded_scheduler.wake()
        return
    try:
        current_app.send_task("apps.reports.tasks.import_read", (str(batch_id),), retry=False)
    except Exception:
        logger.warning("Could not queue the reading of import %s", batch_id, exc_info=True)


def import_read(*, batch_id: uuid.UUID | str) -> str | None:
    """Read and validate an uploaded file: its valid rows and row errors then wait for
    confirmation, or the file as a whole is refused with the reason. Every limit of
    `apps.reports.imports` applies; an unexpected failure refuses the file too (and is
    logged), so no batch stays "reading". Safe to run twice: only the first result is kept.
    Returns the new status, or None when there was nothing to read."""
    batch = ImportBatch.objects.filter(pk=batch_id, status=Status.READING).first()
    if batch is None:
        return None
    content = bytes(batch.content or b"")
    fields: dict = {"content": None}
    try:
        if batch.kind == ImportBatch.Kind.PRODUCTS:
            parsed = imports.parse_products(batch.filename, content, batch.merchant_id)
        else:
            allowed = None if batch.location_ids is None else set(batch.location_ids)
            parsed = imports.parse_counts(batch.filename, content, batch.merchant_id, allowed)
    except imports.ImportFileError as error:
        fields.update(status=Status.REFUSED, file_error=str(error)[:500])
    except Exception:
        logger.exception("Import %s: the file could not be read", batch_id)
        fields.update(
            status=Status.REFUSED,
            file_error="The file could not be read. Check that it opens in a spreadsheet, "
            "or save it again as CSV.",
        )
    else:
        fields.update(
            status=Status.PREVIEW,
            total_rows=parsed.total,
            valid_rows=len(parsed.rows),
            rows=parsed.rows,
            errors=parsed.errors,
        )
    ImportBatch.objects.filter(pk=batch_id, status=Status.READING).update(**fields)
    return fields["status"]


def import_read_waiting(*, older_than: timedelta = timedelta(0)) -> int:
    """Read every upload still waiting to be read (oldest first) that was uploaded more than
    `older_than` ago: the embedded scheduler's job, and with a broker the sweep for uploads
    whose task was lost. Returns how many were read."""
    waiting = list(
        ImportBatch.objects.filter(
            status=Status.READING, created_at__lte=timezone.now() - older_than
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:READ_BATCHES_PER_RUN]
    )
    return sum(import_read(batch_id=batch_id) is not None for batch_id in waiting)


def import_confirm(*, batch: ImportBatch) -> bool:
    """Queue a previewed (or failed) import. True only for the call that moved it to queued:
    a second submit of the same confirmation changes nothing. A failed import continues after
    its last applied chunk."""
    with transaction.atomic():
        queued = (
            ImportBatch.objects.filter(pk=batch.pk, status__in=[Status.PREVIEW, Status.FAILED])
            .exclude(valid_rows=0)
            .update(status=Status.QUEUED)
        )
        if queued:
            transaction.on_commit(functools.partial(_queue_import, str(batch.pk)))
    return bool(queued)


def _queue_import(batch_id: str) -> None:
    """Run the import in a worker (embedded: here, now that the confirmation committed; a
    failure is logged and recorded on the batch, as a worker would)."""
    if not settings.STOCKROOM_EMBEDDED:
        current_app.send_task(IMPORT_TASK, (batch_id,))
        return
    with contextlib.suppress(Exception):
        import_run(batch_id=batch_id)


def import_run(*, batch_id: uuid.UUID | str) -> None:
    """Apply a queued (or interrupted) import chunk by chunk. Each chunk commits together with
    the progress counter and carries its own idempotency key, so a retried run continues where
    it stopped and never applies a row twice."""
    claimed = ImportBatch.objects.filter(
        pk=batch_id, status__in=[Status.QUEUED, Status.RUNNING]
    ).update(status=Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return
    batch = ImportBatch.objects.select_related("merchant", "uploaded_by").get(pk=batch_id)
    apply_chunk = _apply_products if batch.kind == ImportBatch.Kind.PRODUCTS else _apply_counts
    try:
        start = batch.processed_rows
        while start < len(batch.rows):
            chunk = batch.rows[start : start + CHUNK_ROWS]
            with transaction.atomic():
                outcome = apply_chunk(batch, chunk, start // CHUNK_ROWS)
                current = ImportBatch.objects.select_for_update().get(pk=batch.pk)
                for name, value in outcome.pop("counts", {}).items():
                    current.result[name] = current.result.get(name, 0) + value
                current.errors = [*current.errors, *outcome.pop("errors", [])]
                current.processed_rows = start + len(chunk)
                current.save(update_fields=["result", "errors", "processed_rows"])
            start += len(chunk)
    except Exception:
        logger.exception("Import %s failed", batch_id)
        ImportBatch.objects.filter(pk=batch_id).update(
            status=Status.FAILED, finished_at=timezone.now()
        )
        raise
    ImportBatch.objects.filter(pk=batch_id).update(status=Status.DONE, finished_at=timezone.now())


def _apply_products(batch: ImportBatch, rows: list[dict], chunk_index: int) -> dict:
    """Create or update products by SKU in one statement (running it again sets the same
    values)."""
    products = [
        Product(
            merchant_id=batch.merchant_id, sku=row["sku"], name=row["name"],
            description=row["description"], price=Decimal(row["price"]), barcode=row["barcode"],
            unit=row["unit"], is_active=row["is_active"],
        )
        for row in rows
    ]  # fmt: skip
    Product.objects.bulk_create(
        products,
        update_conflicts=True,
        unique_fields=["merchant", "sku"],
        update_fields=[
            "name",
            "description",
            "price",
            "barcode",
            "unit",
            "is_active",
            "updated_at",
        ],
    )
    created = sum(1 for row in rows if not row["exists"])
    return {"counts": {"created": created, "updated": len(rows) - created}}


def _apply_counts(batch: ImportBatch, rows: list[dict], chunk_index: int) -> dict:
    """Record the chunk's counts with one stock_count call; when the engine refuses it (a
    reservation arrived since the preview, ...), record the rows one by one so that only the
    refused rows are left out, each with its error."""
    products = Product.objects.in_bulk({row["product_id"] for row in rows})
    locations = Location.objects.in_bulk({row["location_id"] for row in rows})

    def count(chunk: list[dict], key: str):
        return inventory.stock_count(
            merchant=batch.merchant,
            lines=[
                inventory.StockLine(
                    product=products[row["product_id"]],
                    location=locations[row["location_id"]],
                    quantity=row["counted"],
                )
                for row in chunk
            ],
            actor=batch.uploaded_by,
            idempotency_key=key,
            source=Source.IMPORT,
            reference=f"import:{batch.filename}"[:200],
        )

    prefix = f"import:{batch.pk}"
    try:
        result = count(rows, f"{prefix}:chunk:{chunk_index}")
    except DomainError:
        pass
    else:
        return {"counts": _count_totals(result)}
    totals, errors = {"counted": 0, "variance": 0, "refused": 0}, []
    for row in rows:
        try:
            result = count([row], f"{prefix}:row:{row['row']}")
        except DomainError as error:
            totals["refused"] += 1
            errors.append({"row": row["row"], "message": error.message})
        else:
            for name, value in _count_totals(result).items():
                totals[name] += value
    return {"counts": totals, "errors": errors}


def _count_totals(result: inventory.StockChangeResult) -> dict[str, int]:
    return {
        "counted": len(result.entries),
        "variance": sum(entry.on_hand_delta for entry in result.entries),
    }
