"""Substitutable SKUs: substitution groups with ratios, reservation lines that allow
substitutes (all or nothing, whole units, saying what they took), and availability that
knows what substitutes can serve, fresh in the cache when a substitute's stock changes."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from apps.catalog.models import SubstitutionGroup
from apps.catalog.services import (
    MemberRequest,
    substitution_group_create,
    substitution_group_update,
)
from apps.core.errors import InvalidRequest
from apps.inventory import availability_cache, selectors, services
from apps.inventory.exceptions import InsufficientStock
from apps.inventory.ledger_replay import find_drift, oversold_units
from apps.inventory.models import LedgerEntry, OutboxEvent, ReservationLine, StockLevel
from apps.inventory.services import ReservationLineRequest as Line
from apps.inventory.services import ReturnLineRequest, StockLine
from tests import factories
from tests.inventory.helpers import figures, snapshot
from tests.inventory.test_concurrency import assert_books_balance, hammer
from tests.realstack import wait_for


@pytest.fixture
def packs(merchant):
    """Cola in 6-packs (6 units), 12-packs (12) and single cans (1), one group, tried in the
    order 12-pack then can."""
    six = factories.product(merchant, sku="COLA-6")
    twelve = factories.product(merchant, sku="COLA-12")
    can = factories.product(merchant, sku="COLA-1")
    substitution_group_create(
        merchant=merchant, code="cola", name="Cola",
        members=[MemberRequest(six, 6, 10), MemberRequest(twelve, 12, 20), MemberRequest(can, 1, 30)],
    )  # fmt: skip
    return six, twelve, can


def reserve(merchant, *lines, **kwargs):
    kwargs.setdefault("idempotency_key", factories.key())
    return services.reservation_create(merchant=merchant, lines=list(lines), actor=None, **kwargs)


def taken(reservation) -> list[tuple]:
    return sorted(
        (
            line.product.sku, line.location.code, line.quantity,
            line.substitute_for.sku if line.substitute_for_id else None,
            line.substitute_for_quantity,
        )
        for line in reservation.lines.all()
    )  # fmt: skip


@pytest.mark.django_db
def test_a_short_sku_takes_its_own_units_then_substitutes_and_says_so(merchant, location, packs):
    six, twelve, _can = packs
    own = factories.stock(six, location, 1)
    big = factories.stock(twelve, location, 5)
    reservation = reserve(merchant, Line(six, 3, location, substitutes=True), order_ref="WEB-1")

    # One 6-pack of its own, then one 12-pack for the other two.
    assert taken(reservation) == [
        ("COLA-12", location.code, 1, "COLA-6", 2),
        ("COLA-6", location.code, 1, None, None),
    ]
    assert figures(own)[1:3] == (1, 0)
    assert figures(big)[1:3] == (1, 4)
    entry = LedgerEntry.objects.filter(stock_level=big).latest("id")
    assert (entry.reason, entry.reserved_delta) == ("reserve", 1)
    assert entry.note == "Substitute: 1 standing in for 2 COLA-6"
    assert entry.reference == f"reservation:{reservation.pk}"
    event = OutboxEvent.objects.get(topic="reservation.substituted")
    assert event.payload == {
        "reservation_id": str(reservation.pk), "order_ref": "WEB-1",
        "lines": [{"sku": "COLA-12", "location": location.code, "quantity": 1,
                   "substitute_for": {"sku": "COLA-6", "quantity": 2}}],
    }  # fmt: skip
    assert find_drift() == []


@pytest.mark.django_db
def test_a_replay_returns_the_substituted_lines(merchant, location, packs):
    six, twelve, _ = packs
    factories.stock(twelve, location, 5)
    first = reserve(merchant, Line(six, 2, location, substitutes=True), idempotency_key="sub-1")
    before = snapshot()
    again = reserve(merchant, Line(six, 2, location, substitutes=True), idempotency_key="sub-1")
    assert again.pk == first.pk
    assert again.replayed
    assert taken(again) == [("COLA-12", location.code, 1, "COLA-6", 2)]
    assert snapshot() == before


@pytest.mark.django_db
def test_substitutes_stand_in_for_whole_units_only_and_all_or_nothing(merchant, location, packs):
    six, twelve, can = packs
    factories.stock(six, location, 1)
    factories.stock(twelve, location, 9)
    factories.stock(can, location, 5)
    before = snapshot()
    # Two 6-packs missing: one 12-pack. Three missing: a 12-pack for two, and the third 6-pack
    # would need 6 cans (5 there) or half a 12-pack (never): refused, nothing held.
    with pytest.raises(InsufficientStock) as refused:
        reserve(merchant, Line(six, 4, location, substitutes=True))
    [line] = refused.value.details["lines"]
    assert line == {
        "sku": "COLA-6", "location": location.code, "requested": 4, "available": 1,
        "with_substitutes": 18 + 0,  # 9 twelve-packs stand for 18 six-packs, 5 cans for none
    }  # fmt: skip
    assert "substitutes stand in for 18 more" in refused.value.message
    assert snapshot() == before
    # A 12-pack asked for: two 6-packs can stand in for it, and 12 cans.
    factories.stock(six, location, 3)  # now 4 six-packs... received on top
    pack = reserve(merchant, Line(twelve, 11, location, substitutes=True))
    assert taken(pack) == [
        ("COLA-12", location.code, 9, None, None),
        ("COLA-6", location.code, 4, "COLA-12", 2),
    ]
    assert find_drift() == []


@pytest.mark.django_db
def test_without_the_flag_or_elsewhere_no_substitute_is_taken(
    merchant, location, other_location, packs
):
    six, twelve, _can = packs
    factories.stock(twelve, location, 5)
    factories.stock(six, other_location, 5)
    before = snapshot()
    with pytest.raises(InsufficientStock):
        reserve(merchant, Line(six, 2, location))  # substitutes not allowed
    with pytest.raises(InsufficientStock):  # 6-packs elsewhere: a located line stays there
        reserve(merchant, Line(twelve, 6, location, substitutes=True))
    twelve.is_active = False
    twelve.save(update_fields=["is_active"])
    with pytest.raises(InsufficientStock):  # an inactive product stands in for nothing
        reserve(merchant, Line(six, 2, location, substitutes=True))
    assert snapshot() == before
    with pytest.raises(InvalidRequest, match="once allowing substitutes"):
        reserve(merchant, Line(six, 1, location, substitutes=True), Line(six, 1, location))


@pytest.mark.django_db
def test_an_unlocated_line_takes_substitutes_over_locations_by_priority(merchant, packs):
    six, _twelve, can = packs
    first, second = (
        factories.location(merchant, priority=1),
        factories.location(merchant, priority=2),
    )
    factories.stock(six, second, 1)
    factories.stock(can, first, 4)
    factories.stock(can, second, 8)
    reservation = reserve(merchant, Line(six, 3, substitutes=True))
    # One 6-pack of its own; twelve cans for the other two, four from the first location.
    assert taken(reservation) == [
        ("COLA-1", first.code, 4, "COLA-6", 1),
        ("COLA-1", second.code, 8, "COLA-6", 1),
        ("COLA-6", second.code, 1, None, None),
    ]
    assert sum(line.substitute_for_quantity or 0 for line in reservation.lines.all()) == 2


@pytest.mark.django_db
def test_a_sku_asked_for_directly_is_not_taken_as_another_line_s_substitute(
    merchant, location, packs
):
    six, twelve, _ = packs
    factories.stock(twelve, location, 1)
    with pytest.raises(InsufficientStock):
        reserve(merchant, Line(twelve, 1, location), Line(six, 2, location, substitutes=True))
    assert taken(reserve(merchant, Line(twelve, 1, location))) == [
        ("COLA-12", location.code, 1, None, None)
    ]


@pytest.mark.django_db
def test_a_substituted_reservation_commits_and_returns_the_substitute(merchant, location, packs):
    six, twelve, _ = packs
    big = factories.stock(twelve, location, 2)
    reservation = reserve(merchant, Line(six, 2, location, substitutes=True))
    services.reservation_commit(
        merchant=merchant, reservation_id=reservation.pk, actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    assert figures(big)[:2] == (1, 0)
    assert StockLevel.objects.get(pk=big.pk).last_sold_at is not None
    services.reservation_return(
        merchant=merchant, reservation_id=reservation.pk, lines=[ReturnLineRequest(twelve, 1)],
        disposition="restock", actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    assert figures(big)[0] == 2
    assert find_drift() == []


@pytest.mark.django_db
def test_availability_says_what_substitutes_can_serve(merchant, location, other_location, packs):
    six, twelve, can = packs
    factories.stock(six, location, 1)
    factories.stock(twelve, location, 2)
    factories.stock(twelve, other_location, 1, safety_stock=1)  # nothing reservable there
    factories.stock(can, location, 7)
    answer = selectors.availability(merchant=merchant, sku="COLA-6", quantity=6)
    assert (answer.units, answer.available, answer.can_serve) == (6, 1, False)
    assert [(s.sku, s.units, s.available, s.stands_for) for s in answer.substitutes] == [
        ("COLA-12", 12, 2, 4), ("COLA-1", 1, 7, 1),
    ]  # fmt: skip
    assert answer.can_serve_with_substitutes is True  # 1 + 4 (two 12-packs) + 1 (six cans)
    assert (
        selectors.availability(
            merchant=merchant, sku="COLA-6", quantity=7
        ).can_serve_with_substitutes
        is False
    )
    alone = factories.product(merchant, sku="LONE")
    factories.stock(alone, location, 3)
    lone = selectors.availability(merchant=merchant, sku="LONE", quantity=3)
    assert (lone.units, lone.substitutes, lone.can_serve_with_substitutes) == (None, [], True)


@pytest.mark.django_db
def test_the_cached_answer_moves_on_when_a_substitute_or_the_group_changes(
    merchant, location, packs, django_capture_on_commit_callbacks
):
    six, twelve, can = packs
    factories.stock(twelve, location, 2)
    wait_for(lambda: availability_cache.invalidations.token() is not None, timeout=5)

    def cached(level: str):
        if level == "redis":
            availability_cache._local.clear()
        return availability_cache.availability(merchant=merchant, sku="COLA-6", quantity=4)

    for level in ("memory", "redis"):
        availability_cache._local.clear()
        assert cached(level).can_serve_with_substitutes is True
        with django_capture_on_commit_callbacks(execute=True):  # the substitute sells out
            services.stock_ship(
                merchant=merchant, lines=[StockLine(twelve, location, 2)], actor=None,
                idempotency_key=factories.key(),
            )  # fmt: skip
        assert cached(level).can_serve_with_substitutes is False
        with django_capture_on_commit_callbacks(execute=True):
            services.stock_receive(
                merchant=merchant, lines=[StockLine(twelve, location, 2)], actor=None,
                idempotency_key=factories.key(),
            )  # fmt: skip
        assert cached(level).can_serve_with_substitutes is True
    group = SubstitutionGroup.objects.get(code="cola")
    with django_capture_on_commit_callbacks(execute=True):  # the 12-pack leaves the group
        substitution_group_update(
            group=group, members=[MemberRequest(six, 6), MemberRequest(can, 1)]
        )
    assert [s.sku for s in cached("redis").substitutes] == ["COLA-1"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    sku_key = f"{settings.STOCKROOM_REDIS_PREFIX}:avail:sku:{merchant.pk}:COLA-6"
    assert client.get(sku_key).split(b"|")[1] == str(can.pk).encode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_racing_substitutions_never_oversell_either_sku(merchant, location):
    six, twelve = factories.product(merchant, sku="P6"), factories.product(merchant, sku="P12")
    substitution_group_create(
        merchant=merchant, code="p", name="P",
        members=[MemberRequest(six, 6), MemberRequest(twelve, 12)],
    )  # fmt: skip
    factories.stock(six, location, 7, safety_stock=1)
    factories.stock(twelve, location, 5, safety_stock=1)

    def order(i: int):
        product, quantity = (six, 1 + i % 3) if i % 2 else (twelve, 1)
        return reserve(merchant, Line(product, quantity, location, substitutes=True))

    results = hammer(order, workers=30)
    unexpected = [
        r for r in results if isinstance(r, Exception) and not isinstance(r, InsufficientStock)
    ]
    assert unexpected == []
    for product in (six, twelve):
        level = StockLevel.objects.get(product=product, location=location)
        held = sum(
            ReservationLine.objects.filter(stock_level=level).values_list("quantity", flat=True)
        )
        assert held == level.reserved
        assert level.on_hand - level.reserved >= level.safety_stock  # never into safety stock
    # Both SKUs ran out (6 free six-packs and 4 free twelve-packs, 30 orders).
    assert (
        StockLevel.objects.get(product=six).reserved
        + StockLevel.objects.get(product=twelve).reserved
        > 0
    )
    assert oversold_units() == 0
    assert_books_balance()
