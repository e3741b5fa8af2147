from django.db import models


class LedgerVerification(models.Model):
    """The outcome of one replay of the ledger against the balances (the nightly check).
    The latest row feeds the drift gauges at /metrics."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    drifted_levels = models.PositiveIntegerField()
    oversold_units = models.PositiveIntegerField()
    sample = models.JSONField(default=list, blank=True)  # a few drift descriptions for operators

    class Meta:
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["-finished_at"], name="ledgerverif_finished_idx")]

    def __str__(self) -> str:
        return (
            f"Ledger verification {self.finished_at:%Y-%m-%d %H:%M} ({self.drifted_levels} drifted)"
        )

    @property
    def ok(self) -> bool:
        return self.drifted_levels == 0 and self.oversold_units == 0
