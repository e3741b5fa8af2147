"""Stock buckets: a level's reservable units split over rows that one-line reservations take
from without touching the level row. Exact quantities for every move, refusals that change
nothing, and the books (ledger replay, verify) clean after each."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.alerts.models import Alert
from apps.alerts.services import low_stock_evaluate, low_stock_scan
from apps.core.errors import InvalidRequest, InvalidState
from apps.events.selectors import events_since
from apps.inventory import selectors, services
from apps.inventory.exceptions import CountBelowReserved, InsufficientStock, VersionConflict
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import (
    BucketLedgerEntry,
    LedgerEntry,
    OutboxEvent,
    Reservation,
    ReservationLine,
    StockBucket,
    StockLevel,
)
from apps.inventory.services import ReservationLineRequest as Line
from apps.inventory.services import StockLine
from tests import factories
from tests.admin_helpers import Role, idempotency_key, logged_in, staff
from tests.api.conftest import client_for
from tests.inventory.helpers import snapshot

pytestmark = pytest.mark.django_db


# --- helpers --------------------------------------------------------------------------------
def set_buckets(product, location, count, **settings):
    return services.stock_level_configure(
        merchant=product.merchant, product=product, location=location, actor=None,
        idempotency_key=factories.key(), bucket_count=count, **settings,
    )  # fmt: skip


def bucketed(product, location, on_hand, count, **settings):
    factories.stock(product, location, on_hand, **settings)
    set_buckets(product, location, count)
    return StockLevel.objects.get(product=product, location=location)


def reserve(merchant, *lines, key=None):
    return services.reservation_create(
        merchant=merchant, lines=list(lines), actor=None, idempotency_key=key or factories.key()
    )


def level_row(level) -> tuple[int, int, int, int]:
    """(on_hand, reserved, safety_stock, version) as stored, buckets' allotments included."""
    return StockLevel.objects.values_list("on_hand", "reserved", "safety_stock", "version").get(
        pk=level.pk
    )


def buckets(level) -> list[tuple[int, int]]:
    """(allotted, reserved) of each bucket, by number."""
    return list(
        StockBucket.objects.filter(stock_level=level)
        .order_by("number")
        .values_list("allotted", "reserved")
    )


def line_of(reservation) -> ReservationLine:
    [line] = reservation.lines.all()
    return line


def available(product) -> int:
    return selectors.availability(merchant=product.merchant, sku=product.sku).available


def assert_books_balance() -> None:
    drift = find_drift()
    assert drift == [], [d.describe() for d in drift]


def close(how, reservation):
    merchant = Reservation.objects.get(pk=reservation.pk).merchant
    if how == "expire":
        Reservation.objects.filter(pk=reservation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert services.reservation_expire(reservation_id=reservation.pk) is True
        return
    action = services.reservation_commit if how == "commit" else services.reservation_release
    action(
        merchant=merchant, reservation_id=reservation.pk, actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip


# --- turning buckets on and off -------------------------------------------------------------
def test_opting_in_allots_every_available_unit_evenly(product, location):
    level = bucketed(product, location, 103, 4, safety_stock=3)

    # 100 available units moved to four buckets; the 3 of safety stock stay in the level.
    assert level_row(level) == (103, 100, 3, 4)  # receive, configure, configure, bucket_fill
    assert buckets(level) == [(25, 0), (25, 0), (25, 0), (25, 0)]
    fill = LedgerEntry.objects.get(stock_level=level, reason="bucket_fill")
    assert (fill.reserved_delta, fill.reserved_after, fill.version_after) == (100, 100, 4)
    assert (
        list(
            BucketLedgerEntry.objects.order_by("id").values_list(
                "reason", "allotted_delta", "allotted_after", "version_after"
            )
        )
        == [("bucket_fill", 25, 25, 1)] * 4
    )
    assert available(product) == 100
    assert_books_balance()


def test_uneven_units_go_to_the_first_buckets(product, location):
    level = bucketed(product, location, 10, 4)
    assert buckets(level) == [(3, 0), (3, 0), (2, 0), (2, 0)]


def test_the_same_count_again_moves_nothing(product, location):
    level = bucketed(product, location, 40, 4)
    before = (buckets(level), BucketLedgerEntry.objects.count())
    set_buckets(product, location, 4)
    assert (buckets(level), BucketLedgerEntry.objects.count()) == before
    assert level_row(level)[:2] == (40, 40)


def test_turning_buckets_off_gives_the_free_units_back(merchant, product, location):
    level = bucketed(product, location, 40, 4)
    held = reserve(merchant, Line(product, 4, location))
    [line] = held.lines.all()
    set_buckets(product, location, 0)

    # The 4 held units stay with their bucket until the reservation closes.
    assert level_row(level)[:2] == (40, 4)
    assert sorted(buckets(level)) == [(0, 0), (0, 0), (0, 0), (4, 4)]
    drain = LedgerEntry.objects.get(stock_level=level, reason="bucket_drain")
    assert drain.reserved_delta == -36
    assert available(product) == 36

    # With buckets off, a reservation is served by the level.
    other = reserve(merchant, Line(product, 36, location))
    assert line_of(other).bucket_id is None
    close("release", held)
    assert StockBucket.objects.get(pk=line.bucket_id).reserved == 0
    assert available(product) == 4  # the released units sit free in the retired bucket
    again = reserve(merchant, Line(product, 4, location))  # drained to the level, then held
    assert line_of(again).bucket_id is None
    assert level_row(level)[:2] == (40, 40)
    assert buckets(level) == [(0, 0)] * 4
    assert_books_balance()


def test_changing_the_count_spreads_the_free_units_evenly(merchant, product, location):
    level = bucketed(product, location, 40, 4)
    set_buckets(product, location, 2)
    assert buckets(level) == [(20, 0), (20, 0), (0, 0), (0, 0)]
    assert level_row(level)[:2] == (40, 40)
    held = line_of(reserve(merchant, Line(product, 5, location)))

    set_buckets(product, location, 3)

    # The 35 free units spread 12/12/11 over three buckets; the 5 held stay where they are.
    assert [a - r for a, r in buckets(level)] == [12, 12, 11, 0]
    assert StockBucket.objects.get(pk=held.bucket_id).reserved == 5
    assert level_row(level)[:2] == (40, 40)
    assert_books_balance()


@pytest.mark.parametrize("count", [-1, 65, True, "4"])
def test_bucket_count_must_be_within_range(product, location, count):
    factories.stock(product, location, 10)
    before = snapshot()
    with pytest.raises(InvalidRequest) as refused:
        set_buckets(product, location, count)
    assert refused.value.field == "bucket_count"
    assert snapshot() == before


def test_opting_in_is_idempotent_per_key(product, location):
    factories.stock(product, location, 12)
    call = {
        "merchant": product.merchant, "product": product, "location": location, "actor": None,
        "idempotency_key": "buckets-on", "bucket_count": 3,
    }  # fmt: skip
    services.stock_level_configure(**call)
    before = snapshot()
    replay = services.stock_level_configure(**call)
    assert replay.replayed
    assert snapshot() == before


def test_opting_in_respects_the_expected_version(product, location):
    level = factories.stock(product, location, 12)
    before = snapshot()
    with pytest.raises(VersionConflict):
        set_buckets(product, location, 3, expected_version=level.version + 5)
    assert snapshot() == before


# --- reserving from buckets -----------------------------------------------------------------
def test_a_one_line_reservation_takes_units_from_one_bucket_not_the_level(
    merchant, product, location
):
    level = bucketed(product, location, 40, 4)
    level_before = level_row(level)
    reservation = reserve(merchant, Line(product, 3, location), key="bucketed-1")

    assert level_row(level) == level_before  # the level row was not written
    [line] = reservation.lines.all()
    assert line.bucket_id is not None
    stored = ReservationLine.objects.get(pk=line.pk)
    assert (stored.bucket_id, stored.quantity, stored.stock_level_id) == (
        line.bucket_id,
        3,
        level.pk,
    )
    bucket = StockBucket.objects.get(pk=line.bucket_id)
    assert (bucket.allotted, bucket.reserved, bucket.version) == (10, 3, 2)
    entry = BucketLedgerEntry.objects.get(bucket=bucket, reason="reserve")
    assert (entry.reserved_delta, entry.reserved_after, entry.allotted_after) == (3, 3, 10)
    assert (entry.reference, entry.idempotency_key) == (
        f"reservation:{reservation.pk}",
        "bucketed-1",
    )
    event = OutboxEvent.objects.get(topic="stock.bucket_changed")
    assert event.payload["sku"] == product.sku
    assert event.payload["location"] == location.code
    assert (event.payload["reason"], event.payload["delta"]) == (
        "reserve",
        {"allotted": 0, "reserved": 3},
    )
    assert available(product) == 37
    assert_books_balance()


def test_the_bucket_reservation_is_one_statement_after_the_key_claim(merchant, product, location):
    bucketed(product, location, 40, 4)
    reserve(merchant, Line(product, 1, location))  # teaches this process the level is bucketed
    with CaptureQueriesContext(connection) as queries:
        reserve(merchant, Line(product, 1, location))
    statements = [q["sql"] for q in queries.captured_queries]
    engine = [sql for sql in statements if "inventory_stockbucket" in sql]
    assert len(engine) == 1
    assert "SKIP LOCKED" in engine[0]
    assert not any("UPDATE inventory_stocklevel" in sql for sql in statements)


def test_reservations_spread_over_the_buckets_until_every_unit_is_held(merchant, product, location):
    level = bucketed(product, location, 20, 4)
    for _ in range(20):
        reserve(merchant, Line(product, 1, location))
    assert buckets(level) == [(5, 5)] * 4
    assert level_row(level)[:2] == (20, 20)
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        reserve(merchant, Line(product, 1, location))
    assert (refused.value.shortages[0].requested, refused.value.shortages[0].available) == (1, 0)
    assert snapshot() == before
    assert_books_balance()


def test_a_refusal_reports_level_and_bucket_units_together(merchant, product, location):
    level = bucketed(product, location, 20, 4)  # 5 free in each bucket
    factories.stock(product, location, 0)  # no-op receive: nothing changes
    services.stock_receive(
        merchant=merchant, lines=[StockLine(product, location, 3)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        reserve(merchant, Line(product, 24, location))
    assert (refused.value.shortages[0].requested, refused.value.shortages[0].available) == (24, 23)
    assert snapshot() == before
    assert level_row(level)[:2] == (23, 20)


def test_buckets_run_dry_then_refill_from_new_stock(merchant, product, location):
    level = bucketed(product, location, 8, 4)  # 2 per bucket
    services.stock_receive(
        merchant=merchant, lines=[StockLine(product, location, 10)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    assert available(product) == 18

    reservation = reserve(merchant, Line(product, 3, location))

    # No bucket had 3: the 10 new units were shared out (3, 3, 2, 2), then one bucket served.
    assert level_row(level)[:2] == (18, 18)
    assert [allotted for allotted, _ in buckets(level)] == [5, 5, 4, 4]
    assert sorted(reserved for _, reserved in buckets(level)) == [0, 0, 0, 3]
    assert line_of(reservation).bucket_id is not None
    assert available(product) == 15
    assert_books_balance()


def test_free_units_spread_thin_are_gathered_into_one_bucket(merchant, product, location):
    level = bucketed(product, location, 4, 4)  # one unit per bucket

    reservation = reserve(merchant, Line(product, 3, location))

    # No bucket had 3: buckets 1 and 2 gave their unit to bucket 0, which held the line.
    assert line_of(reservation).bucket_id == StockBucket.objects.get(stock_level=level, number=0).pk
    assert buckets(level) == [(3, 3), (0, 0), (0, 0), (1, 0)]
    assert level_row(level)[:2] == (4, 4)  # the level's figures did not move
    assert LedgerEntry.objects.filter(stock_level=level).count() == level_row(level)[3]
    assert available(product) == 1
    assert_books_balance()


def test_a_level_without_buckets_reserves_on_its_row(merchant, product, location):
    level = factories.stock(product, location, 5)
    reservation = reserve(merchant, Line(product, 2, location))
    assert line_of(reservation).bucket_id is None
    assert level_row(level)[:2] == (5, 2)
    assert not StockBucket.objects.exists()


# --- closing reservations held in buckets ---------------------------------------------------
def test_release_gives_the_units_back_to_the_bucket(merchant, product, location):
    level = bucketed(product, location, 40, 4)
    reservation = reserve(merchant, Line(product, 6, location))
    bucket_id = line_of(reservation).bucket_id
    level_before = level_row(level)

    close("release", reservation)

    assert level_row(level) == level_before
    bucket = StockBucket.objects.get(pk=bucket_id)
    assert (bucket.allotted, bucket.reserved) == (10, 0)
    assert list(
        BucketLedgerEntry.objects.filter(bucket=bucket)
        .order_by("id")
        .values_list("reason", "reserved_delta")
    ) == [("bucket_fill", 0), ("reserve", 6), ("release", -6)]
    assert available(product) == 40
    assert_books_balance()


def test_expiry_gives_the_units_back_to_the_bucket(merchant, product, location):
    level = bucketed(product, location, 40, 4)
    reservation = reserve(merchant, Line(product, 6, location))
    bucket_id = line_of(reservation).bucket_id

    close("expire", reservation)

    assert StockBucket.objects.values_list("allotted", "reserved").get(pk=bucket_id) == (10, 0)
    assert level_row(level)[:2] == (40, 40)
    assert BucketLedgerEntry.objects.filter(reason="expire", reserved_delta=-6).count() == 1
    assert services.reservation_expire(reservation_id=reservation.pk) is False  # once only
    assert_books_balance()


def test_commit_sells_the_units_out_of_the_bucket_and_the_level(merchant, product, location):
    level = bucketed(product, location, 40, 4)
    reservation = reserve(merchant, Line(product, 6, location))
    bucket_id = line_of(reservation).bucket_id

    close("commit", reservation)

    assert StockBucket.objects.values_list("allotted", "reserved").get(pk=bucket_id) == (4, 0)
    assert level_row(level)[:2] == (34, 34)
    sale = LedgerEntry.objects.get(stock_level=level, reason="commit")
    assert (sale.on_hand_delta, sale.reserved_delta) == (-6, -6)
    entry = BucketLedgerEntry.objects.get(reason="commit")
    assert (entry.allotted_delta, entry.reserved_delta) == (-6, -6)
    assert available(product) == 34
    with pytest.raises(InvalidState):
        close("release", reservation)
    assert_books_balance()


def test_closing_twice_moves_the_bucket_once(merchant, product, location):
    bucketed(product, location, 40, 4)
    reservation = reserve(merchant, Line(product, 6, location))
    close("release", reservation)
    before = snapshot()
    services.reservation_release(
        merchant=merchant, reservation_id=reservation.pk, actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    assert snapshot()[:5] == before[:5]  # only the new idempotency key
    with pytest.raises(InvalidState):
        close("commit", reservation)
    assert_books_balance()


# --- other stock operations on a bucketed level ---------------------------------------------
def test_a_sale_drains_just_the_units_it_needs(merchant, product, location):
    level = bucketed(product, location, 40, 4)
    reserve(merchant, Line(product, 10, location))
    services.stock_ship(
        merchant=merchant, lines=[StockLine(product, location, 7)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    assert level_row(level)[:2] == (33, 33)
    drain = LedgerEntry.objects.get(stock_level=level, reason="bucket_drain")
    assert drain.reserved_delta == -7
    assert sum(a for a, _ in buckets(level)) == 33
    assert available(product) == 23
    assert_books_balance()


def test_a_sale_beyond_the_unreserved_units_is_refused_and_drains_nothing(
    merchant, product, location
):
    level = bucketed(product, location, 40, 4)
    reserve(merchant, Line(product, 10, location))
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        services.stock_ship(
            merchant=merchant, lines=[StockLine(product, location, 31)], actor=None,
            idempotency_key=factories.key(),
        )  # fmt: skip
    assert (refused.value.shortages[0].requested, refused.value.shortages[0].available) == (31, 30)
    assert snapshot() == before
    assert level_row(level)[:2] == (40, 40)


def test_a_sale_with_an_expected_version_survives_the_drain(merchant, product, location):
    level = bucketed(product, location, 20, 2)
    version = level_row(level)[3]
    [entry] = services.stock_ship(
        merchant=merchant,
        lines=[StockLine(product, location, 5, expected_version=version)],
        actor=None,
        idempotency_key=factories.key(),
    ).entries
    assert (entry.on_hand_after, entry.reserved_after, entry.version_after) == (15, 15, version + 2)


def test_a_count_below_the_allotted_units_drains_them(merchant, product, location):
    level = bucketed(product, location, 40, 4)
    reserve(merchant, Line(product, 5, location))
    services.stock_count(
        merchant=merchant, lines=[StockLine(product, location, 12)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    assert level_row(level)[:2] == (12, 12)
    assert sum(r for _, r in buckets(level)) == 5
    assert available(product) == 7
    before = snapshot()
    with pytest.raises(CountBelowReserved) as refused:
        services.stock_count(
            merchant=merchant, lines=[StockLine(product, location, 4)], actor=None,
            idempotency_key=factories.key(),
        )  # fmt: skip
    assert refused.value.details["reserved"] == 5
    assert snapshot() == before
    assert_books_balance()


def test_a_transfer_out_drains_the_units_it_ships(merchant, product, location, other_location):
    level = bucketed(product, location, 30, 3)
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(product, 12)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    services.transfer_ship(
        merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=factories.key()
    )
    assert level_row(level)[:2] == (18, 18)
    assert available(product) == 18
    assert_books_balance()


def test_units_in_buckets_never_sit_in_the_safety_stock(merchant, product, location):
    level = bucketed(product, location, 40, 4, safety_stock=4)  # 36 in buckets
    # A counter sale may dig into the safety stock; the buckets give up as much.
    services.stock_ship(
        merchant=merchant, lines=[StockLine(product, location, 3)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    assert level_row(level)[:3] == (37, 33, 4)
    assert available(product) == 33
    # Raising the safety stock takes its units back from the buckets too.
    services.stock_level_configure(
        merchant=merchant, product=product, location=location, actor=None,
        idempotency_key=factories.key(), safety_stock=10,
    )  # fmt: skip
    assert level_row(level)[:3] == (37, 27, 10)
    assert available(product) == 27
    # Lowering it lets the buckets take the units again.
    services.stock_level_configure(
        merchant=merchant, product=product, location=location, actor=None,
        idempotency_key=factories.key(), safety_stock=0,
    )  # fmt: skip
    assert level_row(level)[:3] == (37, 37, 0)
    assert available(product) == 37
    assert_books_balance()


@pytest.mark.parametrize("how", ["release", "expire"])
def test_units_coming_back_to_a_bucket_below_the_safety_stock_go_to_the_level(
    merchant, product, location, how
):
    level = bucketed(product, location, 10, 2, safety_stock=2)  # 8 in buckets
    held = reserve(merchant, Line(product, 3, location))
    # A sale of 7 drains the 5 free bucket units and digs 2 into the safety stock.
    services.stock_ship(
        merchant=merchant, lines=[StockLine(product, location, 7)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    assert level_row(level)[:3] == (3, 3, 2)
    assert available(product) == 0
    close(how, held)
    # Of the 3 units back, 2 refill the safety stock (off the buckets); 1 stays reservable.
    assert level_row(level)[:3] == (3, 1, 2)
    assert sum(allotted - reserved for allotted, reserved in buckets(level)) == 1
    assert available(product) == 1
    assert_books_balance()


def test_multi_line_and_unlocated_reservations_use_bucket_units(merchant, product, location):
    other = factories.product(merchant)
    factories.stock(other, location, 5)
    level = bucketed(product, location, 12, 3)

    multi = reserve(merchant, Line(product, 5, location), Line(other, 1, location))
    anywhere = reserve(merchant, Line(product, 4))

    assert [line.bucket_id for line in multi.lines.all()] == [None, None]
    assert line_of(anywhere).location_id == location.pk
    assert level_row(level)[:2] == (12, 12)
    assert available(product) == 3
    for reservation in (multi, anywhere):
        close("release", reservation)
    assert available(product) == 12
    assert_books_balance()


# --- reads ----------------------------------------------------------------------------------
def test_stock_reads_count_bucket_units_as_available_not_reserved(merchant, product, location):
    bucketed(product, location, 40, 4, safety_stock=2)
    reserve(merchant, Line(product, 3, location))
    level = selectors.stock_level_get(merchant=merchant, sku=product.sku, location=location.code)
    assert (level.on_hand, level.held, level.available, level.in_buckets) == (40, 3, 35, 35)
    [listed] = selectors.stock_level_list(merchant=merchant)
    assert (listed.available_units, listed.held) == (35, 3)
    [place] = selectors.availability(merchant=merchant, sku=product.sku).locations
    assert (place.on_hand, place.reserved, place.available) == (40, 3, 35)


# --- verification and repair ----------------------------------------------------------------
def test_verify_is_clean_on_bucketed_books_and_catches_tampering(merchant, product, location):
    level = bucketed(product, location, 40, 4)
    reserve(merchant, Line(product, 3, location))
    out = StringIO()
    call_command("inventory_verify", stdout=out)
    assert "No drift" in out.getvalue()

    bucket = StockBucket.objects.filter(stock_level=level).order_by("number").first()
    StockBucket.objects.filter(pk=bucket.pk).update(allotted=11, reserved=1)
    out = StringIO()
    with pytest.raises(CommandError, match="drift in 1 stock level"):
        call_command("inventory_verify", stdout=out)
    assert f"bucket {bucket.number} allotted stored 11 expected 10" in out.getvalue()

    call_command("inventory_rebuild", "--apply", stdout=StringIO())
    assert_books_balance()
    bucket.refresh_from_db()
    assert bucket.allotted == 10
    assert bucket.version == BucketLedgerEntry.objects.filter(bucket=bucket).count()


def test_verify_catches_a_bucket_line_the_bucket_does_not_hold(merchant, product, location):
    bucketed(product, location, 40, 4)
    reservation = reserve(merchant, Line(product, 3, location))
    ReservationLine.objects.filter(reservation=reservation).update(quantity=4)
    drift = find_drift()
    assert len(drift) == 1
    [problem] = [name for name in drift[0].problems if "active_reservations" in name]
    assert drift[0].problems[problem] == (3, 4)


def test_bucket_ledger_rows_cannot_be_updated_or_deleted(product, location):
    bucketed(product, location, 8, 2)
    entry = BucketLedgerEntry.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        BucketLedgerEntry.objects.filter(pk=entry.pk).update(allotted_delta=500)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM inventory_bucketledgerentry WHERE id = %s", [entry.pk])
    assert BucketLedgerEntry.objects.get(pk=entry.pk).allotted_delta == 4


def test_bucket_balances_are_guarded_by_the_database(product, location):
    level = bucketed(product, location, 8, 2)
    bucket = StockBucket.objects.filter(stock_level=level).first()
    with pytest.raises(DatabaseError), transaction.atomic():
        StockBucket.objects.filter(pk=bucket.pk).update(reserved=5)  # above allotted


# --- interfaces -----------------------------------------------------------------------------
def test_the_api_turns_buckets_on_and_reads_the_true_figures(merchant, product, location):
    api = client_for(merchant)
    factories.stock(product, location, 40, safety_stock=2)
    url = f"/api/v1/stock/{product.sku}/{location.code}/"
    response = api.patch(
        url, {"bucket_count": 4}, format="json", headers={"Idempotency-Key": "buckets-4"}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["bucket_count"], body["in_buckets"], body["available"]) == (4, 38, 38)
    assert (body["on_hand"], body["reserved"]) == (40, 0)
    reserve(merchant, Line(product, 5, location))
    body = api.get(url).json()
    assert (body["reserved"], body["available"], body["in_buckets"]) == (5, 33, 33)
    assert api.get(f"/api/v1/availability/{product.sku}/").json()["available"] == 33

    refused = api.patch(
        url, {"bucket_count": 65}, format="json", headers={"Idempotency-Key": "buckets-65"}
    )
    assert refused.status_code == 400
    assert "bucket_count" in str(refused.json())


def test_the_admin_settings_form_sets_the_bucket_count(client, merchant, product, location):
    level = factories.stock(product, location, 12)
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    url = reverse("admin:inventory_stocklevel_settings", args=[level.pk])
    form = client.get(url)
    response = client.post(url, {
        "safety_stock": 0, "low_stock_threshold": 0, "reorder_point": 0, "max_level": "",
        "bucket_count": 3, "expected_version": level.version,
        "idempotency_key": idempotency_key(form),
    })  # fmt: skip
    assert response.status_code == 302
    assert buckets(level) == [(4, 0)] * 3
    page = client.get(reverse("admin:inventory_stocklevel_change", args=[level.pk]))
    assert page.status_code == 200


def test_bucket_events_are_replayed_by_location_and_sku(merchant, product, location):
    other = factories.location(merchant)
    bucketed(product, location, 12, 2)
    reserve(merchant, Line(product, 2, location))

    def topics(**filters) -> list[str]:
        return [e["type"] for e in events_since(merchant_id=merchant.pk, since=0, **filters)]

    assert topics(location_ids=[location.pk]).count("stock.bucket_changed") == 1
    assert "stock.bucket_changed" not in topics(location_ids=[other.pk])
    assert topics(skus=[product.sku]).count("stock.bucket_changed") == 1
    assert "stock.bucket_changed" not in topics(skus=["NOT-THIS-ONE"])
    [event] = [
        e
        for e in events_since(merchant_id=merchant.pk, since=0)
        if e["type"] == "stock.bucket_changed"
    ]
    assert (event["data"]["location_id"], event["data"]["reason"]) == (location.pk, "reserve")


def test_a_bucketed_level_is_not_low_while_its_buckets_hold_units(merchant, product, location):
    level = bucketed(product, location, 40, 4, low_stock_threshold=5)
    low_stock_evaluate(level_ids=[level.pk])
    low_stock_scan()
    assert not Alert.objects.exists()
    for _ in range(36):
        reserve(merchant, Line(product, 1, location))
    low_stock_evaluate(level_ids=[level.pk])
    assert Alert.objects.get().available == 4
