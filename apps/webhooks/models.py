"""Partner webhooks: per-merchant endpoints and the log of every delivery to them."""

from django.db import models
from django.db.models import Q

from apps.inventory.outbox import PARTNER_TOPICS, TOPICS
from apps.webhooks.signing import generate_secret
from apps.webhooks.targets import validate_webhook_url

# What an endpoint may subscribe to: the outbox topics offered to partners.
EventType = models.TextChoices(
    "EventType",
    [(name.replace(".", "_").upper(), (name, TOPICS[name].label)) for name in PARTNER_TOPICS],
)

PING_EVENT = "webhook.ping"


class WebhookEndpoint(models.Model):
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    name = models.CharField(max_length=100)
    url = models.URLField(
        max_length=500,
        validators=[validate_webhook_url],
        help_text="A public http(s) URL: loopback, private and other internal addresses are refused.",
    )
    secret = models.CharField(
        max_length=100,
        default=generate_secret,
        help_text="Signs every delivery (HMAC-SHA256); give it to the partner.",
    )
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types sent to this endpoint."
    )
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "name"]
        indexes = [models.Index(fields=["merchant", "is_active"], name="webhook_endpoint_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event to one endpoint, sent at least once: retried with exponential backoff until
    the endpoint answers 2xx or the attempts run out."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (gave up)"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=64)
    event_key = models.CharField(
        max_length=100, help_text="Identifies the event; sent as Stockroom-Event-Id."
    )
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_key"], name="webhook_delivery_event_uniq"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_log_idx"),
            models.Index(
                fields=["merchant", "status", "created_at"], name="webhook_delivery_list_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} delivery #{self.pk} ({self.get_status_display().lower()})"
