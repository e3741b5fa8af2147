import pytest

from apps.core.errors import IdempotencyKeyReused, InvalidRequest
from apps.inventory import services
from apps.inventory.exceptions import (
    CountBelowReserved,
    ExceedsMaxLevel,
    InsufficientStock,
    VersionConflict,
)
from apps.inventory.models import LedgerEntry, OutboxEvent, Source, StockLevel
from apps.inventory.services import StockLine
from tests import factories
from tests.inventory.helpers import figures, snapshot

pytestmark = pytest.mark.django_db


def receive(merchant, product, location, quantity, **kwargs):
    return services.stock_receive(
        merchant=merchant,
        lines=[StockLine(product=product, location=location, quantity=quantity)],
        actor=kwargs.pop("actor", None),
        idempotency_key=kwargs.pop("idempotency_key", factories.key()),
        **kwargs,
    )


def test_receive_creates_level_and_writes_ledger_and_outbox(merchant, product, location, owner):
    result = receive(
        merchant, product, location, 12, actor=owner, source=Source.SUPPLIER, reference="PO-7"
    )

    level = StockLevel.objects.get(product=product, location=location)
    assert figures(level) == (12, 0, 12, 0, 0)
    assert level.version == 1
    [entry] = result.entries
    assert (entry.reason, entry.on_hand_delta, entry.on_hand_after, entry.version_after) == (
        "receive",
        12,
        12,
        1,
    )
    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert (stored.actor, stored.source, stored.reference) == (owner, "supplier", "PO-7")
    assert OutboxEvent.objects.get(ledger_entry=stored).topic == "stock.changed"


def test_receive_sums_duplicate_lines(merchant, product, location):
    services.stock_receive(
        merchant=merchant,
        lines=[StockLine(product, location, 3), StockLine(product, location, 4)],
        actor=None,
        idempotency_key=factories.key(),
    )
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.version, LedgerEntry.objects.count()) == (7, 1, 1)


def test_receive_beyond_max_level_is_refused_and_changes_nothing(merchant, product, location):
    level = factories.stock(product, location, 8, max_level=10)
    before = snapshot()

    with pytest.raises(ExceedsMaxLevel) as refused:
        receive(merchant, product, location, 5)

    assert refused.value.details == {
        "sku": product.sku, "location": location.code, "requested": 5, "on_hand": 8, "max_level": 10, "room": 2,
    }  # fmt: skip
    assert snapshot() == before
    assert figures(level)[0] == 8


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "3", True, 10**10])
def test_bad_quantities_are_refused(merchant, product, location, quantity):
    before = snapshot()
    with pytest.raises(InvalidRequest) as refused:
        receive(merchant, product, location, quantity)
    assert refused.value.field == "quantity"
    assert snapshot() == before


def test_objects_of_another_merchant_are_refused(merchant, other_merchant, location):
    foreign = factories.product(other_merchant)
    with pytest.raises(InvalidRequest, match="Unknown product"):
        receive(merchant, foreign, location, 1)
    assert StockLevel.objects.count() == 0


def test_idempotent_replay_has_no_second_effect(merchant, product, location):
    first = receive(merchant, product, location, 5, idempotency_key="same")
    again = receive(merchant, product, location, 5, idempotency_key="same")

    assert again.replayed
    assert not first.replayed
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    assert StockLevel.objects.get().on_hand == 5


def test_same_key_different_request_is_refused(merchant, product, location):
    receive(merchant, product, location, 5, idempotency_key="same")
    before = snapshot()
    with pytest.raises(IdempotencyKeyReused):
        receive(merchant, product, location, 6, idempotency_key="same")
    assert snapshot() == before


def test_missing_idempotency_key_is_refused(merchant, product, location):
    with pytest.raises(InvalidRequest) as refused:
        receive(merchant, product, location, 5, idempotency_key="  ")
    assert refused.value.field == "idempotency_key"


def test_keys_are_scoped_per_merchant(merchant, other_merchant, product, location):
    other_product, other_location = (
        factories.product(other_merchant),
        factories.location(other_merchant),
    )
    receive(merchant, product, location, 5, idempotency_key="shared")
    result = receive(other_merchant, other_product, other_location, 9, idempotency_key="shared")
    assert not result.replayed
    assert result.entries[0].on_hand_after == 9


def test_ship_takes_unreserved_units_even_from_safety_stock(merchant, product, location):
    level = factories.stock(product, location, 10, safety_stock=3)
    services.stock_ship(
        merchant=merchant,
        lines=[StockLine(product, location, 9)],
        actor=None,
        idempotency_key=factories.key(),
    )
    assert figures(level) == (1, 0, 0, 0, 0)


def test_ship_more_than_unreserved_is_refused_with_figures(merchant, product, location):
    level = factories.stock(product, location, 10)
    services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, location=location, quantity=4)],
        actor=None,
        idempotency_key=factories.key(),
    )
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        services.stock_ship(
            merchant=merchant,
            lines=[StockLine(product, location, 7)],
            actor=None,
            idempotency_key=factories.key(),
        )
    [shortage] = refused.value.shortages
    assert (shortage.sku, shortage.location, shortage.requested, shortage.available) == (
        product.sku, location.code, 7, 6,
    )  # fmt: skip
    assert "requested 7, available 6" in refused.value.message
    assert snapshot() == before
    assert figures(level) == (10, 4, 6, 0, 0)


def test_ship_from_a_level_that_never_existed_is_a_shortage(merchant, product, location):
    with pytest.raises(InsufficientStock) as refused:
        services.stock_ship(
            merchant=merchant,
            lines=[StockLine(product, location, 1)],
            actor=None,
            idempotency_key=factories.key(),
        )
    assert refused.value.shortages[0].available == 0


def test_multi_line_change_is_all_or_nothing(merchant, product, location, other_location):
    a = factories.stock(product, location, 5)
    b = factories.stock(product, other_location, 1)
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        services.stock_ship(
            merchant=merchant,
            lines=[StockLine(product, location, 2), StockLine(product, other_location, 3)],
            actor=None,
            idempotency_key=factories.key(),
        )
    assert [(s.location, s.requested, s.available) for s in refused.value.shortages] == [
        (other_location.code, 3, 1)
    ]
    assert snapshot() == before
    assert figures(a)[0] == 5
    assert figures(b)[0] == 1


def test_adjust_up_and_down_keeps_the_reason(merchant, product, location):
    level = factories.stock(product, location, 10)
    services.stock_adjust(
        merchant=merchant, lines=[StockLine(product, location, -3)], reason="shrinkage found",
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    services.stock_adjust(
        merchant=merchant, lines=[StockLine(product, location, 1)], reason="found behind shelf",
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    assert figures(level)[0] == 8
    notes = list(
        LedgerEntry.objects.filter(reason="adjust")
        .order_by("id")
        .values_list("on_hand_delta", "note")
    )
    assert notes == [(-3, "shrinkage found"), (1, "found behind shelf")]


def test_adjust_needs_a_reason_and_cannot_go_below_reserved(merchant, product, location):
    factories.stock(product, location, 5)
    services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, location=location, quantity=4)],
        actor=None,
        idempotency_key=factories.key(),
    )
    before = snapshot()
    with pytest.raises(InvalidRequest) as refused:
        services.stock_adjust(
            merchant=merchant, lines=[StockLine(product, location, -1)], reason=" ", actor=None,
            idempotency_key=factories.key(),
        )  # fmt: skip
    assert refused.value.field == "reason"
    with pytest.raises(InsufficientStock):
        services.stock_adjust(
            merchant=merchant, lines=[StockLine(product, location, -2)], reason="broken", actor=None,
            idempotency_key=factories.key(),
        )  # fmt: skip
    assert snapshot() == before


def test_count_records_the_variance(merchant, product, location):
    level = factories.stock(product, location, 10)
    result = services.stock_count(
        merchant=merchant,
        lines=[StockLine(product, location, 7)],
        actor=None,
        idempotency_key=factories.key(),
    )
    [entry] = result.entries
    assert (entry.reason, entry.on_hand_delta, entry.on_hand_after) == ("count", -3, 7)
    assert figures(level)[0] == 7


def test_count_with_no_variance_is_still_recorded(merchant, product, location):
    level = factories.stock(product, location, 4)
    services.stock_count(
        merchant=merchant,
        lines=[StockLine(product, location, 4)],
        actor=None,
        idempotency_key=factories.key(),
    )
    level.refresh_from_db()
    assert level.version == 2
    assert LedgerEntry.objects.filter(reason="count", on_hand_delta=0).count() == 1


def test_count_below_reserved_is_refused(merchant, product, location):
    factories.stock(product, location, 10)
    services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, location=location, quantity=6)],
        actor=None,
        idempotency_key=factories.key(),
    )
    before = snapshot()
    with pytest.raises(CountBelowReserved) as refused:
        services.stock_count(
            merchant=merchant,
            lines=[StockLine(product, location, 5)],
            actor=None,
            idempotency_key=factories.key(),
        )
    assert (refused.value.details["counted"], refused.value.details["reserved"]) == (5, 6)
    assert snapshot() == before


def test_count_refuses_duplicate_lines(merchant, product, location):
    with pytest.raises(InvalidRequest, match="appears twice"):
        services.stock_count(
            merchant=merchant,
            lines=[StockLine(product, location, 1), StockLine(product, location, 2)],
            actor=None,
            idempotency_key=factories.key(),
        )


def test_expected_version_mismatch_is_refused_with_current_figures(merchant, product, location):
    level = factories.stock(product, location, 10)
    before = snapshot()
    with pytest.raises(VersionConflict) as refused:
        services.stock_receive(
            merchant=merchant,
            lines=[StockLine(product, location, 1, expected_version=level.version - 1)],
            actor=None,
            idempotency_key=factories.key(),
        )
    assert refused.value.current["version"] == level.version
    assert refused.value.current["on_hand"] == 10
    assert snapshot() == before
    services.stock_receive(
        merchant=merchant,
        lines=[StockLine(product, location, 1, expected_version=level.version)],
        actor=None,
        idempotency_key=factories.key(),
    )
    assert figures(level)[0] == 11


def test_damage_then_write_off(merchant, product, location):
    level = factories.stock(product, location, 10)
    services.stock_damage(
        merchant=merchant,
        lines=[StockLine(product, location, 3)],
        actor=None,
        idempotency_key=factories.key(),
    )
    assert figures(level) == (7, 0, 7, 3, 0)
    with pytest.raises(InsufficientStock) as refused:
        services.stock_write_off(
            merchant=merchant,
            lines=[StockLine(product, location, 4)],
            actor=None,
            idempotency_key=factories.key(),
        )
    [short] = refused.value.shortages
    assert (short.available, short.damaged) == (7, 3)  # a write-off takes damaged units only
    assert "requested 4, damaged 3" in refused.value.message
    services.stock_write_off(
        merchant=merchant,
        lines=[StockLine(product, location, 3)],
        actor=None,
        idempotency_key=factories.key(),
    )
    assert figures(level) == (7, 0, 7, 0, 0)


@pytest.mark.parametrize(
    ("restock", "expected"), [(True, (5, 0, 5, 0, 0)), (False, (0, 0, 0, 5, 0))]
)
def test_return_goes_to_stock_or_to_damaged(merchant, product, location, restock, expected):
    services.stock_return(
        merchant=merchant, lines=[StockLine(product, location, 5)], actor=None, restock=restock,
        idempotency_key=factories.key(), reference="order:42",
    )  # fmt: skip
    level = StockLevel.objects.get(product=product, location=location)
    assert figures(level) == expected
    assert LedgerEntry.objects.get().reason == "return"


def test_configure_bumps_version_and_changes_available(merchant, product, location):
    level = factories.stock(product, location, 10)
    services.stock_level_configure(
        merchant=merchant, product=product, location=location, actor=None, idempotency_key=factories.key(),
        safety_stock=4, low_stock_threshold=6, max_level=None,
    )  # fmt: skip
    level.refresh_from_db()
    assert (level.available, level.safety_stock, level.low_stock_threshold, level.version) == (
        6,
        4,
        6,
        2,
    )
    entry = LedgerEntry.objects.filter(reason="configure").get()
    assert (entry.on_hand_delta, entry.safety_stock_after) == (0, 4)


@pytest.mark.parametrize(
    "settings",
    [{"safety_stock": -1}, {"bogus": 1}, {}, {"reorder_point": None}, {"low_stock_threshold": "2"}],
)
def test_configure_refuses_bad_settings(merchant, product, location, settings):
    with pytest.raises(InvalidRequest):
        services.stock_level_configure(
            merchant=merchant, product=product, location=location, actor=None,
            idempotency_key=factories.key(), **settings,
        )  # fmt: skip
    assert LedgerEntry.objects.count() == 0


def test_available_never_shown_below_zero(merchant, product, location):
    level = factories.stock(product, location, 2, safety_stock=5)
    assert level.available == 0
