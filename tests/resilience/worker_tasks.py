"""A task for the worker-kill test, loaded into a real worker with `-I`.

It releases a reservation through the service, records each attempt, and on its first attempt
stalls (inside the transaction or after the commit) so the test can SIGKILL it there."""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import shared_task
from django.db import transaction

from apps.inventory import services
from apps.merchants.models import Merchant


def _attempt(marker_dir: Path) -> int:
    with (marker_dir / "attempts").open("a") as attempts:
        attempts.write(f"{os.getpid()}\n")
    return len((marker_dir / "attempts").read_text().splitlines())


@shared_task(name="tests.resilience.release_then_stall", acks_late=True)
def release_then_stall(
    merchant_id: int, reservation_id: str, key: str, marker_dir: str, stall: str
):
    marker = Path(marker_dir)
    merchant = Merchant.objects.get(pk=merchant_id)
    attempt = _attempt(marker)
    with transaction.atomic():
        services.reservation_release(
            merchant=merchant, reservation_id=reservation_id, actor=None, idempotency_key=key
        )
        if attempt == 1 and stall == "inside_transaction":
            (marker / "stalled").touch()
            time.sleep(120)  # killed here: the release is rolled back with the connection
    if attempt == 1 and stall == "after_commit":
        (marker / "stalled").touch()
        time.sleep(120)  # killed here: released, but the message was never acknowledged
    (marker / "done").write_text(str(attempt))
