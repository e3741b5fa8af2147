"""Alerts: something a person should look at (stock running low, a ledger that drifts, a partner
endpoint switched off). Lifecycle: triggered -> acknowledged -> resolved."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Alert(models.Model):
    class Kind(models.TextChoices):
        LOW_STOCK = "low_stock", "Low stock"
        LEDGER_DRIFT = "ledger_drift", "Ledger drift"
        WEBHOOK_DISABLED = "webhook_disabled", "Webhook endpoint disabled"

    class Status(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    OPEN_STATUSES = (Status.TRIGGERED, Status.ACKNOWLEDGED)

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIGGERED)
    # What the alert is about; at most one open alert per subject (one episode at a time).
    subject = models.CharField(max_length=100)
    stock_level = models.ForeignKey(
        "inventory.StockLevel", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    location = models.ForeignKey(
        "locations.Location", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    message = models.CharField(max_length=500)
    threshold = models.IntegerField(null=True, blank=True)
    available = models.IntegerField(
        null=True, blank=True, help_text="Available units when last evaluated."
    )
    reorder_quantity = models.IntegerField(
        null=True, blank=True, help_text="Units to order to get back to max level or reorder point."
    )
    details = models.JSONField(default=dict, blank=True)
    triggered_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-triggered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject"],
                condition=Q(status__in=["triggered", "acknowledged"]),
                name="alert_one_open_per_subject",
            ),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False) | ~Q(status="resolved"),
                name="alert_resolved_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "status", "triggered_at"], name="alert_list_idx"),
            models.Index(fields=["merchant", "kind", "status"], name="alert_kind_idx"),
            models.Index(fields=["location", "status"], name="alert_location_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"
