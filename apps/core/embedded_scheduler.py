"""Periodic jobs without a broker, for the embedded defaults: the web process calls the same job
functions that Celery beat schedules in production (each registered through
`apps.core.schedule.periodic_register` by the app it belongs to).

Each job has its own interval; jobs registered with `on_wake=True` (the outbox dispatcher) also
run as soon as `wake()` is called, which is how a stock change reaches the dashboard within a
fraction of a second without Redis. `serve` runs the loop as a task on the ASGI server's event
loop (`run_async`), so jobs that publish to the in-memory channel layer do it from the loop
that owns its queues; `start()` runs the same loop in a daemon thread for other hosts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import close_old_connections

logger = logging.getLogger(__name__)
INTERVAL_SECONDS = 30
WAKE_POLL_SECONDS = 0.2


@dataclass
class Job:
    func: Callable[[], object]
    every: float
    on_wake: bool
    next_run: float = 0.0

    @property
    def name(self) -> str:
        return getattr(self.func, "__name__", repr(self.func))


JOBS: list[Job] = []
_wake = threading.Event()


def register(
    job: Callable[[], object], *, every: float = INTERVAL_SECONDS, on_wake: bool = False
) -> Callable[[], object]:
    """Run `job` every `every` seconds (and on `wake()` when `on_wake`). Registering the same
    function twice keeps one entry."""
    if not any(existing.func is job for existing in JOBS):
        JOBS.append(Job(func=job, every=every, on_wake=on_wake))
    return job


def wake() -> None:
    """Run the on-wake jobs now (a no-op when no loop is running). Safe from any thread."""
    _wake.set()


def _run(job: Job) -> None:
    try:
        job.func()
    except Exception:  # a failing job must not stop the others or the loop
        logger.exception("Periodic job %s failed", job.name)
    finally:
        close_old_connections()


def run_once() -> None:
    """Run every registered job now, whatever its interval."""
    for job in JOBS:
        _run(job)


def tick() -> None:
    """Run the jobs that are due, and the on-wake jobs if woken since the last tick."""
    woken = _wake.is_set()
    _wake.clear()
    now = time.monotonic()
    for job in JOBS:
        if now >= job.next_run or (woken and job.on_wake):
            _run(job)
            job.next_run = time.monotonic() + job.every


async def run_async() -> None:
    """The scheduler as a task on a running event loop (jobs run in a worker thread)."""
    run_tick = sync_to_async(tick, thread_sensitive=False)
    while True:
        await run_tick()
        await asyncio.sleep(WAKE_POLL_SECONDS)


def _loop() -> None:
    while True:
        tick()
        _wake.wait(timeout=WAKE_POLL_SECONDS)


def start() -> threading.Thread:
    """The scheduler in a daemon thread."""
    thread = threading.Thread(target=_loop, name="stockroom-periodic-jobs", daemon=True)
    thread.start()
    return thread
