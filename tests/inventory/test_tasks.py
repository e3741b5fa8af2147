import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.inventory import services
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, OutboxEvent, Reservation, StockLevel
from apps.inventory.tasks import reservations_expire_due
from tests import factories


def make_due_reservations(merchant, product, location, count: int) -> list[Reservation]:
    factories.stock(product, location, count + 5)
    reservations = [
        services.reservation_create(
            merchant=merchant,
            lines=[services.ReservationLineRequest(product=product, location=location, quantity=1)],
            actor=None,
            idempotency_key=factories.key(),
            ttl_seconds=60,
        )
        for _ in range(count)
    ]
    # Their TTL has run out (expires_at is not a quantity; the expiry itself uses the service).
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    return reservations


def assert_expired_exactly_once(reservations, level: StockLevel, on_hand: int) -> None:
    ids = [str(r.pk) for r in reservations]
    assert not Reservation.objects.filter(status="active").exists()
    expiries = LedgerEntry.objects.filter(reason="expire", stock_level=level)
    assert expiries.count() == len(reservations)
    assert sorted(e.reference.split(":", 1)[1] for e in expiries) == sorted(ids)
    assert OutboxEvent.objects.filter(topic="reservation.expired").count() == len(reservations)
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (on_hand, 0)
    assert find_drift() == []


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_expiry_runs_release_each_reservation_exactly_once(
    merchant, product, location
):
    reservations = make_due_reservations(merchant, product, location, 60)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(reservations_expire_due.apply().get())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sum(results) == 60  # each expired by exactly one of the two runs
    level = StockLevel.objects.get(product=product, location=location)
    assert_expired_exactly_once(reservations, level, on_hand=65)
    assert reservations_expire_due.apply().get() == 0  # running again changes nothing
