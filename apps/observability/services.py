"""Writes of the observability app: recording the nightly ledger verification."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from apps.inventory.ledger_replay import Drift, find_drift, oversold_units
from apps.observability.models import LedgerVerification

logger = logging.getLogger(__name__)
SAMPLE_SIZE = 20
KEEP_RUNS = 400


def ledger_verification_run() -> LedgerVerification:
    """Replay the ledger, store the outcome (the /metrics drift gauges read the latest row) and
    keep only the most recent runs. Read-only towards stock: it repairs nothing."""
    started_at = timezone.now()
    return ledger_verification_record(started_at=started_at, drifts=find_drift())


def ledger_verification_record(
    *, started_at: datetime, drifts: Sequence[Drift]
) -> LedgerVerification:
    """Store the outcome of a verification that has just replayed the ledger (`drifts`)."""
    oversold = oversold_units()
    run = LedgerVerification.objects.create(
        started_at=started_at,
        finished_at=timezone.now(),
        drifted_levels=len(drifts),
        oversold_units=oversold,
        sample=[drift.describe() for drift in drifts[:SAMPLE_SIZE]],
    )
    stale = LedgerVerification.objects.values_list("pk", flat=True)[KEEP_RUNS:]
    LedgerVerification.objects.filter(pk__in=list(stale)).delete()
    log = logger.error if not run.ok else logger.info
    log(
        "ledger verification: %s drifted level(s), %s oversold unit(s)",
        run.drifted_levels,
        run.oversold_units,
        extra={"drifted_levels": run.drifted_levels, "oversold_units": run.oversold_units},
    )
    return run
