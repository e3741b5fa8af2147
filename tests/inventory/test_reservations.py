from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.errors import InvalidRequest, InvalidState, ObjectNotFound
from apps.inventory import services
from apps.inventory.exceptions import InsufficientStock, LocationUnavailable, ProductInactive
from apps.inventory.models import LedgerEntry, OutboxEvent, Reservation, StockLevel
from apps.inventory.services import ReservationLineRequest as Line
from apps.locations.models import Location
from tests import factories
from tests.inventory.helpers import figures, snapshot

pytestmark = pytest.mark.django_db


def reserve(merchant, *lines, **kwargs):
    kwargs.setdefault("idempotency_key", factories.key())
    return services.reservation_create(merchant=merchant, lines=list(lines), actor=None, **kwargs)


def test_reserve_holds_units_and_respects_safety_stock(merchant, product, location):
    level = factories.stock(product, location, 10, safety_stock=2)
    reservation = reserve(merchant, Line(product, 8, location), order_ref="WEB-1", ttl_seconds=120)

    assert figures(level) == (10, 8, 0, 0, 0)
    assert reservation.status == "active"
    assert reservation.order_ref == "WEB-1"
    assert (
        timedelta(seconds=115) < reservation.expires_at - timezone.now() <= timedelta(seconds=120)
    )
    assert [(line.location_id, line.quantity) for line in reservation.lines.all()] == [
        (location.pk, 8)
    ]
    with pytest.raises(InsufficientStock) as refused:
        reserve(merchant, Line(product, 1, location))
    assert refused.value.shortages[0].available == 0


def test_default_ttl_is_ten_minutes(merchant, product, location):
    factories.stock(product, location, 1)
    reservation = reserve(merchant, Line(product, 1, location))
    assert (
        timedelta(minutes=9, seconds=55)
        < reservation.expires_at - timezone.now()
        <= timedelta(minutes=10)
    )


def test_duplicate_lines_are_summed_before_the_check(merchant, product, location):
    level = factories.stock(product, location, 5)
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        reserve(merchant, Line(product, 3, location), Line(product, 3, location))
    assert (refused.value.shortages[0].requested, refused.value.shortages[0].available) == (6, 5)
    assert snapshot() == before
    reserve(merchant, Line(product, 2, location), Line(product, 3, location))
    assert figures(level)[1] == 5


def test_multi_line_reservation_is_all_or_nothing(merchant, location):
    a, b = factories.product(merchant), factories.product(merchant)
    factories.stock(a, location, 5)
    factories.stock(b, location, 1)
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        reserve(merchant, Line(a, 2, location), Line(b, 2, location))
    assert [(s.sku, s.requested, s.available) for s in refused.value.shortages] == [(b.sku, 2, 1)]
    assert snapshot() == before
    assert Reservation.objects.count() == 0


def test_unlocated_line_is_allocated_by_priority_and_split(merchant, product):
    first = factories.location(merchant, priority=1)
    second = factories.location(merchant, priority=2)
    inactive = factories.location(merchant, priority=0, status=Location.Status.INACTIVE)
    for loc, units in ((first, 3), (second, 10), (inactive, 50)):
        factories.stock(product, loc, units)

    reservation = reserve(merchant, Line(product, 5))

    assert sorted((line.location_id, line.quantity) for line in reservation.lines.all()) == sorted(
        [(first.pk, 3), (second.pk, 2)]
    )


def test_unlocated_line_goes_nearest_first_with_coordinates(merchant, product):
    london = factories.location(merchant, priority=1, latitude=51.5, longitude=-0.12)
    leeds = factories.location(merchant, priority=2, latitude=53.8, longitude=-1.55)
    factories.stock(product, london, 5)
    factories.stock(product, leeds, 5)
    reservation = reserve(merchant, Line(product, 2), near=(53.79, -1.54))
    assert [(line.location_id, line.quantity) for line in reservation.lines.all()] == [
        (leeds.pk, 2)
    ]


def test_unlocated_shortage_reports_the_total_available(
    merchant, product, location, other_location
):
    factories.stock(product, location, 2)
    factories.stock(product, other_location, 3, safety_stock=1)
    with pytest.raises(InsufficientStock) as refused:
        reserve(merchant, Line(product, 6))
    [shortage] = refused.value.shortages
    assert (shortage.location, shortage.requested, shortage.available) == (None, 6, 4)
    assert "any active location" in refused.value.message


def test_inactive_location_and_product_take_no_reservations(merchant, product, location):
    factories.stock(product, location, 5)
    location.status = Location.Status.MAINTENANCE
    location.save()
    with pytest.raises(LocationUnavailable, match="maintenance"):
        reserve(merchant, Line(product, 1, location))
    location.status = Location.Status.ACTIVE
    location.save()
    product.is_active = False
    product.save()
    with pytest.raises(ProductInactive):
        reserve(merchant, Line(product, 1, location))


@pytest.mark.parametrize("ttl", [0, -5, 10**9, "60", True])
def test_bad_ttl_is_refused(merchant, product, location, ttl):
    factories.stock(product, location, 5)
    with pytest.raises(InvalidRequest) as refused:
        reserve(merchant, Line(product, 1, location), ttl_seconds=ttl)
    assert refused.value.field == "ttl_seconds"


def test_reserve_replay_returns_the_same_reservation(merchant, product, location):
    level = factories.stock(product, location, 5)
    first = reserve(merchant, Line(product, 2, location), idempotency_key="order-1")
    again = reserve(merchant, Line(product, 2, location), idempotency_key="order-1")
    assert again.pk == first.pk
    assert again.replayed
    assert figures(level)[1] == 2


def test_commit_sells_the_units(merchant, product, location):
    level = factories.stock(product, location, 10)
    reservation = reserve(merchant, Line(product, 4, location))
    committed = services.reservation_commit(
        merchant=merchant,
        reservation_id=reservation.pk,
        actor=None,
        idempotency_key=factories.key(),
    )
    assert committed.status == "committed"
    assert figures(level) == (6, 0, 6, 0, 0)
    entry = LedgerEntry.objects.filter(reason="commit").get()
    assert (entry.on_hand_delta, entry.reserved_delta, entry.reference) == (
        -4,
        -4,
        f"reservation:{reservation.pk}",
    )


def test_commit_twice_with_another_key_is_refused(merchant, product, location):
    factories.stock(product, location, 10)
    reservation = reserve(merchant, Line(product, 4, location))
    services.reservation_commit(
        merchant=merchant, reservation_id=reservation.pk, actor=None, idempotency_key="c1"
    )
    replay = services.reservation_commit(
        merchant=merchant, reservation_id=reservation.pk, actor=None, idempotency_key="c1"
    )
    assert replay.replayed
    assert replay.status == "committed"
    before = snapshot()
    with pytest.raises(InvalidState) as refused:
        services.reservation_commit(
            merchant=merchant, reservation_id=reservation.pk, actor=None, idempotency_key="c2"
        )
    assert refused.value.status == "committed"
    assert snapshot() == before


def test_commit_of_an_expired_reservation_is_refused(merchant, product, location):
    level = factories.stock(product, location, 10)
    reservation = reserve(merchant, Line(product, 4, location))
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    before = snapshot()
    with pytest.raises(InvalidState, match="expired") as refused:
        services.reservation_commit(
            merchant=merchant,
            reservation_id=reservation.pk,
            actor=None,
            idempotency_key=factories.key(),
        )
    assert refused.value.status == "expired"
    assert snapshot() == before
    assert figures(level)[1] == 4


def test_release_gives_units_back_and_twice_is_a_no_op(merchant, product, location):
    level = factories.stock(product, location, 10)
    reservation = reserve(merchant, Line(product, 4, location))
    released = services.reservation_release(
        merchant=merchant,
        reservation_id=reservation.pk,
        actor=None,
        idempotency_key=factories.key(),
    )
    assert released.status == "released"
    assert figures(level) == (10, 0, 10, 0, 0)
    before = snapshot()
    again = services.reservation_release(
        merchant=merchant,
        reservation_id=reservation.pk,
        actor=None,
        idempotency_key=factories.key(),
    )
    assert again.status == "released"
    assert snapshot()[:3] == before[:3]  # only the new key's record was added


def test_release_of_a_committed_reservation_is_refused(merchant, product, location):
    factories.stock(product, location, 10)
    reservation = reserve(merchant, Line(product, 4, location))
    services.reservation_commit(
        merchant=merchant,
        reservation_id=reservation.pk,
        actor=None,
        idempotency_key=factories.key(),
    )
    before = snapshot()
    with pytest.raises(InvalidState, match="committed"):
        services.reservation_release(
            merchant=merchant,
            reservation_id=reservation.pk,
            actor=None,
            idempotency_key=factories.key(),
        )
    assert snapshot() == before


def test_extend_moves_the_expiry(merchant, product, location):
    factories.stock(product, location, 10)
    reservation = reserve(merchant, Line(product, 1, location), ttl_seconds=60)
    extended = services.reservation_extend(
        merchant=merchant, reservation_id=reservation.pk, ttl_seconds=3600, actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    assert extended.expires_at - timezone.now() > timedelta(minutes=59)
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(InvalidState, match="expired"):
        services.reservation_extend(
            merchant=merchant, reservation_id=reservation.pk, ttl_seconds=60, actor=None,
            idempotency_key=factories.key(),
        )  # fmt: skip


def test_expire_due_releases_only_past_ttl_once(merchant, product, location):
    level = factories.stock(product, location, 10)
    due = reserve(merchant, Line(product, 3, location))
    fresh = reserve(merchant, Line(product, 2, location))
    Reservation.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert services.reservation_expire_due() == 1
    assert services.reservation_expire_due() == 0
    assert services.reservation_expire(reservation_id=due.pk) is False

    assert figures(level)[1] == 2
    assert Reservation.objects.get(pk=due.pk).status == "expired"
    assert Reservation.objects.get(pk=fresh.pk).status == "active"
    assert LedgerEntry.objects.filter(reason="expire").count() == 1
    assert OutboxEvent.objects.filter(topic="reservation.expired").count() == 1


def test_another_merchants_reservation_does_not_exist(merchant, other_merchant, product, location):
    factories.stock(product, location, 10)
    reservation = reserve(merchant, Line(product, 1, location))
    for action in (services.reservation_commit, services.reservation_release):
        with pytest.raises(ObjectNotFound):
            action(
                merchant=other_merchant,
                reservation_id=reservation.pk,
                actor=None,
                idempotency_key="k",
            )
    with pytest.raises(ObjectNotFound):
        services.reservation_commit(
            merchant=merchant, reservation_id="not-a-uuid", actor=None, idempotency_key="k"
        )


def test_one_line_reservation_is_one_statement_after_the_key_claim(merchant, product, location):
    """The hot path: the idempotency claim, then one statement that reserves, writes the
    ledger, the outbox, the reservation and its line (the row lock is held only from there to
    COMMIT). Savepoints are the test's own transaction: in production the service's atomic
    block is the outermost one."""
    factories.stock(product, location, 5)
    with CaptureQueriesContext(connection) as captured:
        reservation = services.reservation_create(
            merchant=merchant,
            lines=[Line(product=product, location=location, quantity=2)],
            actor=None,
            idempotency_key=factories.key(),
        )
    statements = [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2
    assert statements[0].startswith("INSERT INTO inventory_idempotencyrecord")
    stored = Reservation.objects.prefetch_related("lines").get(pk=reservation.pk)
    assert [(line.pk, line.stock_level_id, line.quantity) for line in stored.lines.all()] == [
        (line.pk, line.stock_level_id, line.quantity) for line in reservation.lines.all()
    ]
    assert (stored.status, stored.expires_at) == (reservation.status, reservation.expires_at)
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.reserved) == (5, 2)
    entry = LedgerEntry.objects.get(reference=f"reservation:{reservation.pk}")
    assert (entry.reason, entry.reserved_delta, entry.reserved_after) == ("reserve", 2, 2)
    assert OutboxEvent.objects.filter(ledger_entry=entry).count() == 1
