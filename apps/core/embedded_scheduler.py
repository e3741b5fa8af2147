"""Periodic jobs without a broker, for the embedded defaults: one daemon thread in the web
process calls the same job functions that Celery beat schedules in production."""

import logging
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections

logger = logging.getLogger(__name__)
INTERVAL_SECONDS = 30
JOBS: list[Callable[[], object]] = []


def register(job: Callable[[], object]) -> Callable[[], object]:
    JOBS.append(job)
    return job


def run_once() -> None:
    for job in JOBS:
        try:
            job()
        except Exception:  # a failing job must not stop the others or the loop
            logger.exception("Periodic job %s failed", getattr(job, "__name__", job))
        finally:
            close_old_connections()


def _loop() -> None:
    while True:
        run_once()
        time.sleep(INTERVAL_SECONDS)


def start() -> threading.Thread:
    from apps.inventory.services import reservation_expire_due

    if reservation_expire_due not in JOBS:
        register(reservation_expire_due)
    thread = threading.Thread(target=_loop, name="stockroom-periodic-jobs", daemon=True)
    thread.start()
    return thread
