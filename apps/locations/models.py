from django.db import models
from django.db.models import Q


class Location(models.Model):
    """A place that holds stock: a warehouse, a retail store or a dark store."""

    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", "Warehouse"
        RETAIL_STORE = "retail_store", "Retail store"
        DARK_STORE = "dark_store", "Dark store"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        MAINTENANCE = "maintenance", "Maintenance"

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="locations"
    )
    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WAREHOUSE)
    address = models.TextField(blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    priority = models.PositiveIntegerField(
        default=100, help_text="Fulfilment priority: lower numbers are allocated first."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "priority", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "code"], name="location_merchant_code_uniq"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="location_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="location_longitude_range",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "status", "priority"], name="location_alloc_idx")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def takes_reservations(self) -> bool:
        return self.status == self.Status.ACTIVE
