"""Stock levels removed from the records while empty (apps/inventory/services/removal.py): their
records. Imported by apps.inventory.models, which registers them with the app."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.inventory.models import API_KEY_ACTOR, Source, StockLevel


class StockLevelRemoval(models.Model):
    """A stock level removed from the records while empty (`stock_level_remove`), until its
    version moves on: its next change brings it back. Its ledger, the history, stays."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    # No index of its own: the unique (stock_level, version) index serves its lookups.
    stock_level = models.ForeignKey(StockLevel, models.PROTECT, related_name="+", db_index=False)
    version = models.BigIntegerField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, related_name="+")
    actor_api_key = models.ForeignKey(**API_KEY_ACTOR)
    actor_api_key_name = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SYSTEM)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stock_level", "version"], name="stocklevelremoval_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"Stock level {self.stock_level_id} removed at version {self.version}"
