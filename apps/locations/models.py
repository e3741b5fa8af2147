import re
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

COUNTRY_CODE = re.compile(r"[A-Z]{2}")


def validate_country(value: str) -> None:
    """An ISO 3166-1 alpha-2 country code, upper case (GB, US, DE)."""
    if value and not COUNTRY_CODE.fullmatch(value):
        raise ValidationError(
            f"{value!r} is not a country code: use the two capital letters of ISO 3166-1 "
            "(GB, US, DE)."
        )


def validate_timezone(value: str) -> None:
    """An IANA time zone name (Europe/London, America/New_York)."""
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"{value!r} is not a time zone: use an IANA name such as Europe/London."
        )


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
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_country],
        help_text="ISO 3166-1 alpha-2 code (GB, US, DE).",
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="IANA time zone of the location (Europe/London).",
    )
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Units the location can hold (empty: not recorded)."
    )
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
