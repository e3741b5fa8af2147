from django.db import models
from django.db.models import Q


class FeedEvent(models.Model):
    """One event received from a point-of-sale or supplier feed, kept so that a redelivery
    has no second effect and late events are ordered against those already applied.

    `position` orders the events of one stock level: `occurred_at` in microseconds since the
    epoch when the event has a time, else its `sequence`. Ties break by (source, event_id).
    """

    class Type(models.TextChoices):
        SALE = "sale", "Sale"
        RECEIPT = "receipt", "Receipt"
        COUNT = "count", "Count"
        RETURN = "return", "Return"

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        STALE = "stale", "Stale (superseded by a newer count)"

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=64)
    event_id = models.CharField(max_length=128)
    type = models.CharField(max_length=16, choices=Type.choices)
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("locations.Location", on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField(help_text="Units sold/received/returned, or the count.")
    on_hand_delta = models.IntegerField(
        default=0, help_text="Signed effect on on_hand of a sale, receipt or return."
    )
    sequence = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    position = models.BigIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.CharField(max_length=500, blank=True)
    ledger_entry_ids = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "source", "event_id"], name="feedevent_source_event_uniq"
            )
        ]
        indexes = [
            models.Index(
                fields=["merchant", "product", "location", "position"],
                name="feedevent_level_position_idx",
                condition=Q(outcome="applied"),
            ),
            models.Index(fields=["merchant", "received_at"], name="feedevent_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_id} {self.type} ({self.outcome})"


class QueuedFeedBatch(models.Model):
    """A batch of feed events accepted (202) into the Redis stream while the database could
    not be reached, or behind batches that were, once applied: when, and each event's
    outcome. Its id is the stream entry's, which the 202 answer gave."""

    id = models.CharField(primary_key=True, max_length=40)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField()
    applied_at = models.DateTimeField()
    applied = models.PositiveIntegerField(default=0)
    duplicate = models.PositiveIntegerField(default=0)
    stale = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-applied_at"]
        indexes = [models.Index(fields=["merchant", "applied_at"], name="queuedfeedbatch_list_idx")]

    def __str__(self) -> str:
        return f"Queued feed batch {self.pk}"
