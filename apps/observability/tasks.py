from celery import shared_task

from apps.observability.services import ledger_verification_run


@shared_task(name="observability.ledger_verify", acks_late=True)
def ledger_verify() -> dict[str, int]:
    """The nightly check: replay the ledger and record the drift (safe to run twice)."""
    run = ledger_verification_run()
    return {
        "id": run.pk,
        "drifted_levels": run.drifted_levels,
        "oversold_units": run.oversold_units,
    }
