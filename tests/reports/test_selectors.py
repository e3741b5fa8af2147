"""Report figures on known data, with time frozen where history matters."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from apps.inventory import services
from apps.reports import selectors
from apps.reports.selectors import ReportScope
from apps.reports.services import snapshot_take
from tests import factories
from tests.admin_helpers import Role, staff

pytestmark = pytest.mark.django_db


def at(day: date, hour: int = 12):
    """Run services as if it were `day` at `hour` UTC."""
    return mock.patch(
        "django.utils.timezone.now",
        return_value=datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
    )


def receive(product, location, quantity):
    services.stock_receive(
        merchant=product.merchant, lines=[services.StockLine(product, location, quantity)],
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip


def ship(product, location, quantity):
    services.stock_ship(
        merchant=product.merchant, lines=[services.StockLine(product, location, quantity)],
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip


@pytest.fixture
def owner(merchant):
    return staff(merchant, Role.OWNER)


@pytest.fixture
def shop(merchant, location, other_location):
    """Two products at two locations: tee 10.00, cap 2.50."""
    tee = factories.product(merchant, price=Decimal("10.00"))
    cap = factories.product(merchant, price=Decimal("2.50"))
    factories.stock(tee, location, 10, safety_stock=2, low_stock_threshold=3)  # available 8
    factories.stock(cap, location, 4, low_stock_threshold=5)  # low: available 4
    factories.stock(tee, other_location, 2, safety_stock=2)  # out: available 0
    return {"tee": tee, "cap": cap}


def test_stock_by_location(owner, shop, location, other_location, other_merchant):
    factories.stock(factories.product(other_merchant), factories.location(other_merchant), 99)
    rows = {row["location__code"]: row for row in selectors.stock_by_location(ReportScope(owner))}
    assert set(rows) == {location.code, other_location.code}
    a, b = rows[location.code], rows[other_location.code]
    assert (a["skus"], a["on_hand"], a["available"], a["low"], a["out"]) == (2, 14, 12, 1, 0)
    assert a["value"] == Decimal("110.00")  # 10 x 10.00 + 4 x 2.50
    assert (b["skus"], b["on_hand"], b["available"], b["low"], b["out"]) == (1, 2, 0, 0, 1)
    assert b["value"] == Decimal("20.00")


def test_low_and_out_of_stock_lists(owner, shop, location, other_location):
    scope = ReportScope(owner)
    assert [(r["product__sku"], r["available_units"]) for r in selectors.low_stock(scope)] == [
        (shop["cap"].sku, 4)
    ]
    assert [(r["product__sku"], r["location__code"]) for r in selectors.out_of_stock(scope)] == [
        (shop["tee"].sku, other_location.code)
    ]


def test_scope_narrows_to_a_manager_location(merchant, shop, location):
    manager = staff(merchant, Role.MANAGER, locations=[location])
    rows = selectors.stock_by_location(ReportScope(manager))
    assert [row["location__code"] for row in rows] == [location.code]
    assert selectors.out_of_stock(ReportScope(manager)) == []


def test_movements_per_day_and_top_movers(owner, merchant, location):
    tee, cap = factories.product(merchant), factories.product(merchant)
    today = timezone.now().date()
    with at(today - timedelta(days=2)):
        receive(tee, location, 20)
        receive(cap, location, 5)
    with at(today - timedelta(days=1)):
        ship(tee, location, 6)
        ship(cap, location, 1)
    with at(today - timedelta(days=40)):
        receive(cap, location, 100)  # outside the 30 days
    days = {row["day"]: row for row in selectors.movements_per_day(ReportScope(owner))}
    assert len(days) == 30
    assert days[today - timedelta(days=2)] | {"day": None} == {
        "day": None,
        "movements": 2,
        "units_in": 25,
        "units_out": 0,
    }
    assert days[today - timedelta(days=1)]["units_out"] == 7
    assert sum(row["units_in"] for row in days.values()) == 25
    movers = selectors.top_movers(ReportScope(owner))
    assert [(row["product__sku"], row["units"]) for row in movers] == [(tee.sku, 6), (cap.sku, 1)]


def test_reservations_expiring_and_transfers_in_transit(owner, merchant, location, other_location):
    product = factories.product(merchant)
    factories.stock(product, location, 10)
    soon = services.reservation_create(
        merchant=merchant, lines=[services.ReservationLineRequest(product, 2, location)],
        actor=None, idempotency_key=factories.key(), ttl_seconds=600,
    )  # fmt: skip
    services.reservation_create(
        merchant=merchant, lines=[services.ReservationLineRequest(product, 1, location)],
        actor=None, idempotency_key=factories.key(), ttl_seconds=7200,
    )  # fmt: skip
    expiring = selectors.reservations_expiring(ReportScope(owner))
    assert [(row["id"], row["units"]) for row in expiring] == [(soon.pk, 2)]
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(product, 3)], actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    assert selectors.transfers_in_transit(ReportScope(owner)) == []
    services.transfer_ship(
        merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=factories.key()
    )
    rows = selectors.transfers_in_transit(ReportScope(owner))
    assert [(row["id"], row["units"], row["lines_count"]) for row in rows] == [(transfer.pk, 3, 1)]


def test_stock_as_of_a_past_date_from_the_ledger_then_from_snapshots(owner, merchant, location):
    product = factories.product(merchant, price=Decimal("5.00"))
    monday, tuesday, wednesday = (timezone.now().date() - timedelta(days=n) for n in (3, 2, 1))
    with at(monday, 9):
        receive(product, location, 10)
    with at(monday, 18):
        ship(product, location, 3)  # Monday closes at 7
    with at(tuesday):
        receive(product, location, 5)  # Tuesday closes at 12
    with at(wednesday):
        ship(product, location, 12)  # Wednesday closes at 0
    scope = ReportScope(owner)
    expected = {monday: 7, tuesday: 12, wednesday: 0}
    for day, on_hand in expected.items():
        rows, source = selectors.stock_as_of(scope, day)
        assert source == "ledger"
        assert [(row["on_hand"], row["value"]) for row in rows] == [(on_hand, Decimal(on_hand * 5))]
    assert selectors.stock_as_of(scope, monday - timedelta(days=1))[0] == []

    for day in expected:
        assert snapshot_take(day=day) == 1
    assert snapshot_take(day=tuesday) == 1  # idempotent: replaces, never duplicates
    for day, on_hand in expected.items():
        rows, source = selectors.stock_as_of(scope, day)
        assert source == "snapshot"
        assert [(row["on_hand"], row["available"]) for row in rows] == [(on_hand, on_hand)]
    history = selectors.stock_history(scope)
    assert [(row["date"], row["on_hand"]) for row in history] == sorted(expected.items())


def test_snapshot_of_the_future_is_refused():
    with pytest.raises(ValueError, match="future"):
        snapshot_take(day=timezone.now().date() + timedelta(days=1))


def test_as_of_starts_from_the_latest_earlier_snapshot(owner, merchant, location, other_location):
    """Wednesday is rebuilt from Monday's snapshot plus the later ledger rows: levels that
    moved since, levels that did not, and a level that did not exist on Monday."""
    quiet, busy, newer = (factories.product(merchant, price=Decimal("1.00")) for _ in range(3))
    today = timezone.now().date()
    monday, tuesday, wednesday = (today - timedelta(days=n) for n in (3, 2, 1))
    with at(monday):
        receive(quiet, location, 4)
        receive(busy, location, 10)
    with at(tuesday):
        ship(busy, location, 3)
        receive(newer, other_location, 6)
    with at(today):
        receive(busy, location, 100)  # after Wednesday: not counted
    scope = ReportScope(owner)
    full = {r["location__code"]: r["on_hand"] for r in selectors.stock_as_of(scope, wednesday)[0]}
    assert snapshot_take(day=monday) == 2
    rows, source = selectors.stock_as_of(scope, wednesday)
    assert source == "ledger"
    assert (
        {r["location__code"]: r["on_hand"] for r in rows}
        == full
        == {location.code: 11, other_location.code: 6}
    )
    assert snapshot_take(day=wednesday) == 3
    snapshot = {
        r["location__code"]: r["on_hand"] for r in selectors.stock_as_of(scope, wednesday)[0]
    }
    assert snapshot == full
