from decimal import Decimal

from django.db import models
from django.db.models import Q


class Product(models.Model):
    """A stock-keeping unit of one merchant."""

    class Unit(models.TextChoices):
        EACH = "each", "Each"
        PACK = "pack", "Pack"
        CASE = "case", "Case"
        KG = "kg", "Kilogram"
        LITRE = "litre", "Litre"
        METRE = "metre", "Metre"

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="products"
    )
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    barcode = models.CharField(max_length=64, blank=True)
    unit = models.CharField(max_length=16, choices=Unit.choices, default=Unit.EACH)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="product_merchant_sku_uniq"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_nonnegative"),
        ]
        indexes = [
            models.Index(fields=["merchant", "is_active"], name="product_merchant_active_idx"),
            models.Index(fields=["merchant", "barcode"], name="product_merchant_barcode_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"
