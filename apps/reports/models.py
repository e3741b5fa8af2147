"""Daily stock snapshots (for fast history) and file imports (upload, preview, confirm)."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models


class StockSnapshot(models.Model):
    """One stock level's balances at the end of a day (UTC), rebuilt from the ledger by
    `apps.reports.services.snapshot_take`. Derived data: it can always be taken again."""

    id = models.BigAutoField(primary_key=True)
    date = models.DateField()
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    stock_level = models.ForeignKey(
        "inventory.StockLevel", on_delete=models.CASCADE, related_name="snapshots"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey("locations.Location", on_delete=models.CASCADE, related_name="+")
    on_hand = models.IntegerField()
    reserved = models.IntegerField()
    damaged = models.IntegerField()
    in_transit = models.IntegerField()
    available = models.IntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        ordering = ["-date", "stock_level_id"]
        constraints = [
            models.UniqueConstraint(fields=["date", "stock_level"], name="snapshot_date_level_uniq")
        ]
        indexes = [
            models.Index(fields=["merchant", "date"], name="snapshot_merchant_date_idx"),
            models.Index(fields=["location", "date"], name="snapshot_location_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.date} level {self.stock_level_id}"


class ImportBatch(models.Model):
    """An uploaded file: read and validated in the background (never in the request that
    uploaded it), its valid rows wait for confirmation, then are applied in chunks through the
    services. Confirming is a conditional state change, so a double submit starts nothing
    twice, and every chunk carries its own idempotency key."""

    class Kind(models.TextChoices):
        PRODUCTS = "products", "Products"
        COUNTS = "counts", "Stock counts"

    class Status(models.TextChoices):
        READING = "reading", "Reading the file"
        REFUSED = "refused", "File refused"
        PREVIEW = "preview", "Waiting for confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEW)
    filename = models.CharField(max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    content = models.BinaryField(
        null=True, editable=False, help_text="The uploaded file, kept until it has been read."
    )
    location_ids = models.JSONField(
        null=True, blank=True, help_text="Where the uploader may count (null: everywhere)."
    )
    file_error = models.CharField(
        max_length=500, blank=True, help_text="Why the file as a whole was refused."
    )
    rows = models.JSONField(default=list, help_text="Valid rows, normalised, in file order.")
    errors = models.JSONField(default=list, help_text="[{row, message}], preview and apply.")
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"
        indexes = [models.Index(fields=["merchant", "created_at"], name="import_merchant_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.filename}"

    @property
    def percent_done(self) -> int:
        if not self.valid_rows:
            return 100
        return int(100 * self.processed_rows / self.valid_rows)

    @property
    def is_active(self) -> bool:
        """Work is under way in the background (the page follows it)."""
        return self.status in (self.Status.READING, self.Status.QUEUED, self.Status.RUNNING)
