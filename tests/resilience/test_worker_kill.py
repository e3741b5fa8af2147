"""A worker killed with SIGKILL mid-task: the task runs again and the reservation is released
exactly once. Real worker processes on a private Redis broker, the test database."""

import os
import signal
import sys
import time

import pytest
from celery import Celery
from django.conf import settings

from apps.inventory import services
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, Reservation
from tests import factories
from tests.resilience.servers import Process, current_database_url, django_env, wait_for

pytestmark = [pytest.mark.servers, pytest.mark.timeout(180)]


def start_worker(env, workdir, name: str) -> Process:
    return Process(
        [sys.executable, "-m", "celery", "-A", "inventory_site", "worker", "-P", "prefork",
         "-c", "1", "-I", "tests.resilience.worker_tasks", "-n", f"{name}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        env, workdir / f"{name}.log",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stall", "kill"),
    [("inside_transaction", "pool_child"), ("after_commit", "whole_worker")],
)
@pytest.mark.django_db(transaction=True)
def test_killed_task_is_retried_and_releases_once(
    stall, kill, private_redis, workdir, processes, merchant, product, location
):
    level = factories.stock(product, location, 10)
    reservation = services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, quantity=4)],
        actor=None,
        idempotency_key=factories.key(),
    )
    env = django_env(
        DATABASE_URL=current_database_url(),
        REDIS_URL=private_redis.url,
        CELERY_VISIBILITY_TIMEOUT="3",  # redeliver unacknowledged work 3 s after a worker died
    )
    marker = workdir / "markers"
    marker.mkdir()
    worker = start_worker(env, workdir, "first")
    processes.append(worker)

    # Not the current app: the rest of the suite keeps publishing through the project app.
    producer = Celery("producer", broker=private_redis.url, set_as_current=False)
    producer.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    producer.send_task(
        "tests.resilience.release_then_stall",
        args=[merchant.pk, str(reservation.pk), factories.key(), str(marker), stall],
    )
    producer.close()
    wait_for(lambda: (marker / "stalled").exists(), 60, "the first attempt to stall")
    child_pid = int((marker / "attempts").read_text().split()[0])
    if kill == "pool_child":
        os.kill(child_pid, signal.SIGKILL)  # the pool process running the task (OOM killer)
    else:
        worker.kill(signal.SIGKILL)  # the whole worker: main process and pool
        wait_for(lambda: worker.popen.poll() is not None, 10, "the worker to die")
        # A replacement worker restores unacknowledged messages older than the visibility
        # timeout when it starts polling.
        time.sleep(4)
        processes.append(start_worker(env, workdir, "second"))

    wait_for(lambda: (marker / "done").exists(), 90, "the task to run again and finish")
    assert (marker / "done").read_text() == "2"
    attempts = (marker / "attempts").read_text().split()
    assert len(attempts) == 2
    assert attempts[0] != attempts[1]

    reservation.refresh_from_db()
    level.refresh_from_db()
    assert reservation.status == Reservation.Status.RELEASED
    assert (level.on_hand, level.reserved) == (10, 0)
    releases = LedgerEntry.objects.filter(stock_level=level, reason=LedgerEntry.Reason.RELEASE)
    assert releases.count() == 1
    assert releases.get().reserved_delta == -4
    assert find_drift() == []
