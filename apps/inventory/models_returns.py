"""Returns and cancellations after commit (apps/inventory/services/returns.py): their records.
Imported by apps.inventory.models, which registers them with the app."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.inventory.models import Source


class ReservationReturn(models.Model):
    """Units of a committed (sold) reservation that come back, or an order cancelled after
    commit: each line goes back to on hand (`restock`) or to damaged. Never more of a SKU than
    the reservation committed, over all its returns."""

    class Disposition(models.TextChoices):
        RESTOCK = "restock", "Restock (sellable again)"
        DAMAGED = "damaged", "Damaged (set aside)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    reservation = models.ForeignKey(
        "inventory.Reservation", on_delete=models.PROTECT, related_name="returns"
    )
    disposition = models.CharField(max_length=16, choices=Disposition.choices)
    # The whole order was cancelled after commit (every unit not yet returned came back).
    cancellation = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SYSTEM)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["merchant", "created_at"], name="reservationreturn_list_idx")
        ]

    def __str__(self) -> str:
        what = "Cancellation" if self.cancellation else "Return"
        return f"{what} of reservation {self.reservation_id} ({self.get_disposition_display()})"


class ReservationReturnLine(models.Model):
    """Units of one SKU returned at one location (where the goods came back)."""

    reservation_return = models.ForeignKey(
        ReservationReturn, on_delete=models.CASCADE, related_name="lines"
    )
    stock_level = models.ForeignKey(
        "inventory.StockLevel", on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("locations.Location", on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="reservationreturnline_quantity_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.product.sku} at {self.location.code}"
