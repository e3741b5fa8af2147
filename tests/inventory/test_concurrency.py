"""Many threads against the real database at once, then the invariants.

Each thread has its own PostgreSQL connection; a barrier releases them together so the
statements really overlap. Any exception other than the expected refusals fails the test
(a deadlock would surface here as `deadlock detected`).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.errors import InvalidState
from apps.inventory import services
from apps.inventory.exceptions import CountBelowReserved, InsufficientStock
from apps.inventory.ledger_replay import find_drift, oversold_units
from apps.inventory.models import (
    BucketLedgerEntry,
    LedgerEntry,
    Reservation,
    StockBucket,
    StockLevel,
)
from apps.inventory.services import ReservationLineRequest, StockLine, TransferLineRequest
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

WORKERS = 52


def hammer(task: Callable[[int], object], workers: int = WORKERS) -> list[object]:
    """Run task(i) for i in range(workers) in parallel threads; return results or exceptions."""
    barrier = threading.Barrier(workers)

    def run(i: int) -> object:
        try:
            barrier.wait(timeout=30)
            return task(i)
        except Exception as error:  # collected and judged by the test
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


def assert_books_balance() -> None:
    drift = find_drift()
    assert drift == [], [d.describe() for d in drift]
    assert oversold_units() == 0


def test_racing_for_the_last_units_reserves_exactly_what_is_there(merchant, product, location):
    level = factories.stock(product, location, 30, safety_stock=5)  # 25 available

    def reserve(i: int):
        return services.reservation_create(
            merchant=merchant,
            lines=[ReservationLineRequest(product=product, location=location, quantity=1 + i % 3)],
            actor=None,
            idempotency_key=f"race-{i}",
        )

    results = hammer(reserve)

    won = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert len(won) + len(refused) == WORKERS, [r for r in results if isinstance(r, Exception)]
    level.refresh_from_db()
    reserved = sum(line.quantity for r in won for line in r.lines.all())
    assert level.reserved == reserved
    assert 23 <= reserved <= 25  # every refusal saw fewer units than it asked for
    assert all(r.shortages[0].available < r.shortages[0].requested for r in refused)
    assert (level.on_hand, level.available) == (30, 25 - reserved)
    assert_books_balance()


def test_unlocated_reservations_race_over_several_locations(merchant, product):
    locations = [factories.location(merchant, priority=p) for p in (1, 2, 3)]
    for loc in locations:
        factories.stock(product, loc, 10)

    def reserve(i: int):
        return services.reservation_create(
            merchant=merchant, lines=[ReservationLineRequest(product=product, quantity=1)], actor=None,
            idempotency_key=f"anywhere-{i}",
        )  # fmt: skip

    results = hammer(reserve)
    won = [r for r in results if isinstance(r, Reservation)]
    assert all(isinstance(r, Reservation | InsufficientStock) for r in results), results
    assert len(won) == 30
    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 30
    assert_books_balance()


def test_opposite_transfers_and_opposite_line_orders_never_deadlock(merchant):
    a, b = factories.location(merchant), factories.location(merchant)
    products = [factories.product(merchant) for _ in range(4)]
    for product in products:
        factories.stock(product, a, 200)
        factories.stock(product, b, 200)

    def work(i: int):
        lines = products if i % 2 else list(reversed(products))
        if i % 4 < 2:  # transfers both ways, all four products in each
            source, destination = (a, b) if i % 2 else (b, a)
            transfer = services.transfer_create(
                merchant=merchant, source_location=source, destination_location=destination,
                lines=[TransferLineRequest(product=p, quantity=1 + i % 3) for p in lines],
                actor=None, idempotency_key=f"transfer-{i}",
            )  # fmt: skip
            services.transfer_ship(
                merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=f"ship-{i}"
            )
            services.transfer_receive(
                merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=f"recv-{i}"
            )
            return "transfer"
        # multi-line reservations over both locations, lines in opposite orders, then commit
        reservation = services.reservation_create(
            merchant=merchant,
            lines=[
                ReservationLineRequest(product=p, location=loc, quantity=1)
                for p in lines
                for loc in (a, b)
            ][:: 1 if i % 2 else -1],
            actor=None,
            idempotency_key=f"multi-{i}",
        )
        services.reservation_commit(
            merchant=merchant, reservation_id=reservation.pk, actor=None, idempotency_key=f"c-{i}"
        )
        return "sold"

    results = hammer(work)

    assert Counter(results) == Counter({"transfer": 26, "sold": 26}), [
        r for r in results if isinstance(r, Exception)
    ]
    for product in products:
        levels = StockLevel.objects.filter(product=product)
        assert (
            sum(level.on_hand + level.in_transit for level in levels) == 400 - 26 * 2
        )  # 26 sales of one unit at each of the two locations
        assert sum(level.in_transit for level in levels) == 0
    assert_books_balance()


def test_one_idempotency_key_from_many_workers_has_exactly_one_effect(merchant, product, location):
    def receive(i: int):
        return services.stock_receive(
            merchant=merchant, lines=[StockLine(product=product, location=location, quantity=7)], actor=None,
            idempotency_key="delivery-123",
        )  # fmt: skip

    results = hammer(receive)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(1 for r in results if not r.replayed) == 1
    assert {r.entries[0].pk for r in results} == {LedgerEntry.objects.get().pk}
    assert StockLevel.objects.get().on_hand == 7
    assert_books_balance()


def test_one_reservation_key_from_many_workers_holds_once(merchant, product, location):
    factories.stock(product, location, 100)

    def reserve(i: int):
        return services.reservation_create(
            merchant=merchant, lines=[ReservationLineRequest(product=product, location=location, quantity=5)],
            actor=None, idempotency_key="checkout-9",
        )  # fmt: skip

    results = hammer(reserve)
    assert {r.pk for r in results if isinstance(r, Reservation)} == {Reservation.objects.get().pk}
    assert StockLevel.objects.get().reserved == 5


def test_two_sweepers_expire_each_reservation_exactly_once(merchant, product, location):
    factories.stock(product, location, 500)
    for i in range(120):
        services.reservation_create(
            merchant=merchant, lines=[ReservationLineRequest(product=product, location=location, quantity=2)],
            actor=None, idempotency_key=f"due-{i}",
        )  # fmt: skip
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    results = hammer(lambda i: services.reservation_expire_due(), workers=4)

    assert sum(results) == 120
    assert LedgerEntry.objects.filter(reason="expire").count() == 120
    assert StockLevel.objects.get().reserved == 0
    assert_books_balance()


def test_commit_release_and_expire_racing_on_one_reservation(merchant, product, location):
    factories.stock(product, location, 10)
    reservation = services.reservation_create(
        merchant=merchant, lines=[ReservationLineRequest(product=product, location=location, quantity=4)],
        actor=None, idempotency_key="contested",
    )  # fmt: skip
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() + timedelta(milliseconds=300)
    )

    def contend(i: int):
        kind = i % 3
        if kind == 0:
            return services.reservation_commit(
                merchant=merchant,
                reservation_id=reservation.pk,
                actor=None,
                idempotency_key=f"commit-{i}",
            )
        if kind == 1:
            return services.reservation_release(
                merchant=merchant,
                reservation_id=reservation.pk,
                actor=None,
                idempotency_key=f"release-{i}",
            )
        return services.reservation_expire(
            reservation_id=reservation.pk, now=timezone.now() + timedelta(seconds=1)
        )

    results = hammer(contend, workers=30)

    assert all(not isinstance(r, Exception) or isinstance(r, InvalidState) for r in results), (
        results
    )
    closing = LedgerEntry.objects.filter(reason__in=["commit", "release", "expire"])
    assert closing.count() == 1  # exactly one way out, taken once
    level = StockLevel.objects.get()
    assert level.reserved == 0
    assert level.on_hand == (6 if closing.get().reason == "commit" else 10)
    assert_books_balance()


def test_random_mixed_load_keeps_the_books(merchant, location, other_location):
    products = [factories.product(merchant) for _ in range(3)]
    for product in products:
        factories.stock(product, location, 40)
        factories.stock(product, other_location, 40)
    # A count below the units reserved at that instant is refused, by design.
    expected_failures = (InsufficientStock, InvalidState, CountBelowReserved)

    def work(i: int):
        rng = random.Random(i)
        outcomes = []
        for step in range(6):
            product, loc = rng.choice(products), rng.choice([location, other_location])
            key = f"mixed-{i}-{step}"
            try:
                choice = rng.random()
                if choice < 0.4:
                    r = services.reservation_create(
                        merchant=merchant, lines=[ReservationLineRequest(product=product, location=loc, quantity=rng.randint(1, 4))],
                        actor=None, idempotency_key=key,
                    )  # fmt: skip
                    action = rng.choice([services.reservation_commit, services.reservation_release])
                    action(
                        merchant=merchant,
                        reservation_id=r.pk,
                        actor=None,
                        idempotency_key=key + "-close",
                    )
                elif choice < 0.6:
                    services.stock_ship(
                        merchant=merchant,
                        lines=[StockLine(product, loc, rng.randint(1, 3))],
                        actor=None,
                        idempotency_key=key,
                    )
                elif choice < 0.75:
                    services.stock_receive(
                        merchant=merchant,
                        lines=[StockLine(product, loc, rng.randint(1, 5))],
                        actor=None,
                        idempotency_key=key,
                    )
                elif choice < 0.9:
                    services.stock_damage(
                        merchant=merchant,
                        lines=[StockLine(product, loc, 1)],
                        actor=None,
                        idempotency_key=key,
                    )
                else:
                    services.stock_count(
                        merchant=merchant, lines=[StockLine(product, loc, rng.randint(20, 30))], actor=None,
                        idempotency_key=key,
                    )  # fmt: skip
                outcomes.append("ok")
            except expected_failures:
                outcomes.append("refused")
        return outcomes

    results = hammer(work, workers=24)
    assert not [r for r in results if isinstance(r, Exception)], [
        r for r in results if isinstance(r, Exception)
    ]
    assert_books_balance()


# --- Bucketed levels -------------------------------------------------------------------------
def bucketed(product, location, on_hand: int, count: int, **settings) -> StockLevel:
    factories.stock(product, location, on_hand, **settings)
    services.stock_level_configure(
        merchant=product.merchant, product=product, location=location, actor=None,
        idempotency_key=factories.key(), bucket_count=count,
    )  # fmt: skip
    return StockLevel.objects.get(product=product, location=location)


def bucket_rows(level: StockLevel) -> list[tuple[int, int]]:
    return list(
        StockBucket.objects.filter(stock_level=level)
        .order_by("number")
        .values_list("allotted", "reserved")
    )


def test_many_threads_on_a_bucketed_level_reserve_exactly_the_available_units(
    merchant, product, location
):
    level = bucketed(product, location, 30, 4, safety_stock=5)  # 25 available, in 4 buckets

    def reserve(i: int):
        return services.reservation_create(
            merchant=merchant,
            lines=[ReservationLineRequest(product=product, location=location, quantity=1)],
            actor=None,
            idempotency_key=f"bucket-race-{i}",
        )

    results = hammer(reserve)

    won = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert len(won) + len(refused) == WORKERS, [r for r in results if isinstance(r, Exception)]
    assert (len(won), len(refused)) == (25, WORKERS - 25)
    assert all(r.shortages[0].available == 0 for r in refused)
    assert {line.bucket_id is not None for r in won for line in r.lines.all()} == {True}
    assert sum(reserved for _, reserved in bucket_rows(level)) == 25
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.safety_stock) == (30, 25, 5)
    assert_books_balance()


def test_bucketed_racing_with_mixed_quantities_never_oversells(merchant, product, location):
    level = bucketed(product, location, 40, 8)  # 5 per bucket

    def reserve(i: int):
        return services.reservation_create(
            merchant=merchant,
            lines=[ReservationLineRequest(product=product, location=location, quantity=1 + i % 4)],
            actor=None,
            idempotency_key=f"bucket-mixed-{i}",
        )

    results = hammer(reserve)

    won = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert len(won) + len(refused) == WORKERS, [r for r in results if isinstance(r, Exception)]
    held = sum(line.quantity for r in won for line in r.lines.all())
    # Every refusal saw fewer units than it asked for, so at most 3 are left over.
    assert all(r.shortages[0].available < r.shortages[0].requested for r in refused)
    assert 37 <= held <= 40
    assert sum(reserved for _, reserved in bucket_rows(level)) == held
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (40, 40)
    assert_books_balance()


def test_commit_release_and_expire_racing_on_a_bucketed_reservation(merchant, product, location):
    level = bucketed(product, location, 12, 3)
    reservation = services.reservation_create(
        merchant=merchant, lines=[ReservationLineRequest(product=product, location=location, quantity=4)],
        actor=None, idempotency_key="contested-bucket",
    )  # fmt: skip
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() + timedelta(milliseconds=300)
    )

    def contend(i: int):
        kind = i % 3
        if kind == 0:
            return services.reservation_commit(
                merchant=merchant, reservation_id=reservation.pk, actor=None,
                idempotency_key=f"commit-{i}",
            )  # fmt: skip
        if kind == 1:
            return services.reservation_release(
                merchant=merchant, reservation_id=reservation.pk, actor=None,
                idempotency_key=f"release-{i}",
            )  # fmt: skip
        return services.reservation_expire(
            reservation_id=reservation.pk, now=timezone.now() + timedelta(seconds=1)
        )

    results = hammer(contend, workers=30)

    assert all(not isinstance(r, Exception) or isinstance(r, InvalidState) for r in results), (
        results
    )
    closing = BucketLedgerEntry.objects.filter(reason__in=["commit", "release", "expire"])
    assert closing.count() == 1  # exactly one way out, taken once
    sold = closing.get().reason == "commit"
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == ((8, 8) if sold else (12, 12))
    assert sum(reserved for _, reserved in bucket_rows(level)) == 0
    assert_books_balance()


def test_two_sweepers_expire_each_bucketed_reservation_exactly_once(merchant, product, location):
    level = bucketed(product, location, 500, 4)
    for i in range(60):
        services.reservation_create(
            merchant=merchant, lines=[ReservationLineRequest(product=product, location=location, quantity=2)],
            actor=None, idempotency_key=f"bucket-due-{i}",
        )  # fmt: skip
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    results = hammer(lambda i: services.reservation_expire_due(), workers=4)

    assert sum(results) == 60
    assert BucketLedgerEntry.objects.filter(reason="expire").count() == 60
    assert sum(reserved for _, reserved in bucket_rows(level)) == 0
    assert_books_balance()


def test_random_mixed_load_on_a_bucketed_level_keeps_the_books(merchant, location):
    """Reservations (held, then sold, released or left to expire) race with counter sales,
    receipts, counts, damage, transfers out and changes of the bucket count: every lock order
    is exercised; any deadlock or drift fails the test."""
    product, elsewhere = factories.product(merchant), factories.location(merchant)
    level = bucketed(product, location, 200, 4, safety_stock=3)
    expected_failures = (InsufficientStock, InvalidState, CountBelowReserved)

    def work(i: int):
        rng = random.Random(i)
        outcomes = []
        for step in range(8):
            key = f"bucket-load-{i}-{step}"
            try:
                choice = rng.random()
                if choice < 0.55:
                    r = services.reservation_create(
                        merchant=merchant, lines=[ReservationLineRequest(product=product, location=location, quantity=rng.randint(1, 6))],
                        actor=None, idempotency_key=key,
                    )  # fmt: skip
                    how = rng.choice(["commit", "release", "expire", "keep"])
                    if how == "expire":
                        services.reservation_expire(
                            reservation_id=r.pk, now=timezone.now() + timedelta(hours=1)
                        )
                    elif how != "keep":
                        action = getattr(services, f"reservation_{how}")
                        action(merchant=merchant, reservation_id=r.pk, actor=None,
                               idempotency_key=key + "-close")  # fmt: skip
                elif choice < 0.65:
                    services.stock_ship(
                        merchant=merchant, lines=[StockLine(product, location, rng.randint(1, 4))],
                        actor=None, idempotency_key=key,
                    )  # fmt: skip
                elif choice < 0.75:
                    services.stock_receive(
                        merchant=merchant, lines=[StockLine(product, location, rng.randint(1, 8))],
                        actor=None, idempotency_key=key,
                    )  # fmt: skip
                elif choice < 0.8:
                    services.stock_count(
                        merchant=merchant, lines=[StockLine(product, location, rng.randint(120, 200))],
                        actor=None, idempotency_key=key,
                    )  # fmt: skip
                elif choice < 0.85:
                    services.stock_damage(
                        merchant=merchant, lines=[StockLine(product, location, 1)], actor=None,
                        idempotency_key=key,
                    )  # fmt: skip
                elif choice < 0.9:
                    transfer = services.transfer_create(
                        merchant=merchant, source_location=location, destination_location=elsewhere,
                        lines=[TransferLineRequest(product=product, quantity=2)], actor=None,
                        idempotency_key=key,
                    )  # fmt: skip
                    services.transfer_ship(
                        merchant=merchant, transfer_id=transfer.pk, actor=None,
                        idempotency_key=key + "-ship",
                    )  # fmt: skip
                elif choice < 0.95:
                    services.reservation_create(
                        merchant=merchant, lines=[ReservationLineRequest(product=product, quantity=rng.randint(1, 3))],
                        actor=None, idempotency_key=key,
                    )  # fmt: skip
                else:
                    services.stock_level_configure(
                        merchant=merchant, product=product, location=location, actor=None,
                        idempotency_key=key, bucket_count=rng.choice([0, 2, 4, 8]),
                    )  # fmt: skip
                outcomes.append("ok")
            except expected_failures:
                outcomes.append("refused")
        return outcomes

    results = hammer(work, workers=24)
    assert not [r for r in results if isinstance(r, Exception)], [
        r for r in results if isinstance(r, Exception)
    ]
    level.refresh_from_db()
    assert 0 <= level.reserved <= level.on_hand
    assert_books_balance()
