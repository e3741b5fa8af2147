"""Idempotency records: what every mutating call claims before it acts."""

from django.db import models


class IdempotencyRecord(models.Model):
    """A claimed idempotency key. Written in the same transaction as the effect it guards, so a
    key exists exactly when its effect does. Interfaces may store the response they sent."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    result = models.JSONField(default=dict)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        # The table predates the model's move to core: the rows stay where they are.
        db_table = "inventory_idempotencyrecord"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "key"], name="idempotency_merchant_key_uniq"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.operation})"
