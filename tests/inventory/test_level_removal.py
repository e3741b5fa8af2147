"""Removing an empty stock level from the inventory records: refused while it holds anything,
its settings reset through the ledger, and back with its next change."""

import pytest

from apps.core.errors import ObjectNotFound
from apps.inventory import services
from apps.inventory.exceptions import StockRemains
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, StockLevel, StockLevelRemoval
from apps.inventory.selectors import removed_q
from apps.inventory.services import StockLine
from tests import factories
from tests.inventory.helpers import snapshot
from tests.inventory.test_concurrency import assert_books_balance, hammer

pytestmark = pytest.mark.django_db


def remove(merchant, level, key=None):
    return services.stock_level_remove(
        merchant=merchant, stock_level_id=level.pk, actor=None,
        idempotency_key=key or factories.key(),
    )  # fmt: skip


def is_removed(level) -> bool:
    return StockLevel.objects.filter(removed_q(), pk=level.pk).exists()


def ship(merchant, product, location, quantity):
    services.stock_ship(
        merchant=merchant, lines=[StockLine(product, location, quantity)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip


def test_an_empty_level_is_removed_with_its_settings_reset_in_the_ledger(
    merchant, product, location
):
    level = factories.stock(product, location, 4, safety_stock=1, low_stock_threshold=3)
    ship(merchant, product, location, 4)
    level.refresh_from_db()
    ledger_before = LedgerEntry.objects.count()

    result = remove(merchant, level, key="remove-1")

    [reset] = result.entries
    assert (reset.reason, reset.on_hand_delta, reset.version_after) == (
        "configure", 0, level.version + 1,
    )  # fmt: skip
    level.refresh_from_db()
    assert (level.safety_stock, level.low_stock_threshold, level.max_level) == (0, 0, None)
    assert LedgerEntry.objects.count() == ledger_before + 1
    removal = StockLevelRemoval.objects.get()
    assert (removal.version, removal.stock_level_id) == (level.version, level.pk)
    assert is_removed(level)
    assert find_drift() == []


def test_a_level_without_settings_is_removed_without_a_ledger_row(merchant, product, location):
    level = factories.stock(product, location, 2)
    ship(merchant, product, location, 2)
    before = LedgerEntry.objects.count()
    assert remove(merchant, level).entries == []
    assert LedgerEntry.objects.count() == before
    assert is_removed(level)


def test_the_next_change_brings_a_removed_level_back(merchant, product, location):
    level = factories.stock(product, location, 2)
    ship(merchant, product, location, 2)
    remove(merchant, level)
    assert is_removed(level)
    factories.stock(product, location, 5)
    assert not is_removed(level)
    assert StockLevel.objects.get(pk=level.pk).on_hand == 5
    ship(merchant, product, location, 5)
    remove(merchant, level)  # removed again: a removal of its own
    assert StockLevelRemoval.objects.filter(stock_level_id=level.pk).count() == 2
    assert is_removed(level)


@pytest.mark.parametrize(
    ("setup", "figures"),
    [
        ("on_hand", {"on_hand": 3, "reserved": 0, "damaged": 0, "in_transit": 0}),
        ("reserved", {"on_hand": 3, "reserved": 3, "damaged": 0, "in_transit": 0}),
        ("damaged", {"on_hand": 0, "reserved": 0, "damaged": 3, "in_transit": 0}),
        ("in_transit", {"on_hand": 0, "reserved": 0, "damaged": 0, "in_transit": 3}),
    ],
)
def test_a_level_holding_anything_is_refused_with_its_figures(
    merchant, product, location, other_location, setup, figures
):
    factories.stock(product, location, 3)
    if setup == "reserved":
        services.reservation_create(
            merchant=merchant, actor=None, idempotency_key=factories.key(),
            lines=[services.ReservationLineRequest(product, 3, location)],
        )  # fmt: skip
    elif setup == "damaged":
        services.stock_damage(
            merchant=merchant, lines=[StockLine(product, location, 3)], actor=None,
            idempotency_key=factories.key(),
        )  # fmt: skip
    elif setup == "in_transit":
        ship(merchant, product, location, 3)
        factories.stock(product, other_location, 3)
        services.transfer_move(
            merchant=merchant, source_location=other_location, destination_location=location,
            lines=[services.TransferLineRequest(product, 3)], actor=None, receive=False,
            idempotency_key=factories.key(),
        )  # fmt: skip
    level = StockLevel.objects.get(product=product, location=location)
    before = snapshot()
    with pytest.raises(StockRemains) as refused:
        remove(merchant, level)
    assert {k: refused.value.details[k] for k in figures} == figures
    assert f"{product.sku} at {location.code} still holds" in refused.value.message
    assert snapshot() == before
    assert not StockLevelRemoval.objects.exists()


def test_another_merchants_level_or_a_removed_one_is_not_found(
    merchant, other_merchant, product, location
):
    theirs = factories.stock(
        factories.product(other_merchant), factories.location(other_merchant), 0
    )
    before = snapshot()
    with pytest.raises(ObjectNotFound):
        remove(merchant, theirs)
    assert snapshot() == before
    level = factories.stock(product, location, 0)
    remove(merchant, level, key="first")
    with pytest.raises(ObjectNotFound):
        remove(merchant, level)
    replay = remove(merchant, level, key="first")
    assert replay.replayed
    assert StockLevelRemoval.objects.count() == 1


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_removals_racing_receipts_and_each_other_stay_true(merchant, product, location):
    """Removals of one empty level race receipts into it: every removal is recorded at a
    version where the level was empty, two never record the same one (no integrity error), and
    a level holding stock is never counted as removed."""
    level = factories.stock(product, location, 0, low_stock_threshold=3)

    def task(i: int):
        if i % 2:
            return services.stock_receive(
                merchant=merchant, lines=[StockLine(product, location, 1)], actor=None,
                idempotency_key=factories.key(),
            )  # fmt: skip
        return remove(merchant, level)

    results = hammer(task, workers=24)
    unexpected = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, ObjectNotFound | StockRemains)]  # fmt: skip
    assert unexpected == []
    level.refresh_from_db()
    receipts = sum(1 for r in results if isinstance(r, services.StockChangeResult) and r.entries
                   and r.entries[0].reason == "receive")  # fmt: skip
    assert level.on_hand == receipts
    assert not (is_removed(level) and level.on_hand)
    for removal in StockLevelRemoval.objects.filter(stock_level_id=level.pk):
        at = LedgerEntry.objects.filter(stock_level=level, version_after__lte=removal.version)
        assert at.order_by("-version_after").first().on_hand_after == 0
    assert_books_balance()
