import pytest

from apps.core.errors import IdempotencyKeyReused, InvalidRequest, InvalidState
from apps.inventory import services
from apps.inventory.exceptions import InsufficientStock
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, OutboxEvent, StockLevel, Transfer
from apps.inventory.services import TransferLineRequest
from tests import factories
from tests.inventory.helpers import figures, snapshot

pytestmark = pytest.mark.django_db


def create(merchant, source, destination, *lines, **kwargs):
    return services.transfer_create(
        merchant=merchant, source_location=source, destination_location=destination, lines=list(lines),
        actor=None, idempotency_key=kwargs.pop("idempotency_key", factories.key()), **kwargs,
    )  # fmt: skip


def act(action, merchant, transfer):
    return action(
        merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=factories.key()
    )


def test_transfer_moves_stock_through_in_transit(merchant, product, location, other_location):
    source = factories.stock(product, location, 10)
    transfer = create(
        merchant, location, other_location, TransferLineRequest(product, 4), reference="TR-1"
    )
    assert transfer.status == "draft"
    assert figures(source)[0] == 10

    shipped = act(services.transfer_ship, merchant, transfer)
    destination = StockLevel.objects.get(product=product, location=other_location)
    assert shipped.status == "in_transit"
    assert shipped.shipped_at is not None
    assert figures(source) == (6, 0, 6, 0, 0)
    assert figures(destination) == (0, 0, 0, 0, 4)

    received = act(services.transfer_receive, merchant, transfer)
    assert received.status == "received"
    assert figures(destination) == (4, 0, 4, 0, 0)
    reasons = list(LedgerEntry.objects.order_by("id").values_list("reason", flat=True))
    assert reasons[-3:] == ["transfer_out", "transfer_in_transit", "transfer_in"]
    assert OutboxEvent.objects.filter(topic="transfer.received").count() == 1


def test_ship_without_enough_unreserved_stock_is_refused(
    merchant, product, location, other_location
):
    factories.stock(product, location, 3)
    transfer = create(merchant, location, other_location, TransferLineRequest(product, 4))
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        act(services.transfer_ship, merchant, transfer)
    assert (refused.value.shortages[0].requested, refused.value.shortages[0].available) == (4, 3)
    assert snapshot() == before
    transfer.refresh_from_db()
    assert transfer.status == "draft"


def test_cancel_only_before_shipping(merchant, product, location, other_location):
    factories.stock(product, location, 10)
    draft = create(merchant, location, other_location, TransferLineRequest(product, 1))
    assert act(services.transfer_cancel, merchant, draft).status == "cancelled"
    with pytest.raises(InvalidState, match="cancelled"):
        act(services.transfer_ship, merchant, draft)

    shipped = create(merchant, location, other_location, TransferLineRequest(product, 1))
    act(services.transfer_ship, merchant, shipped)
    before = snapshot()
    with pytest.raises(InvalidState, match="receive it at the destination"):
        act(services.transfer_cancel, merchant, shipped)
    assert snapshot() == before


def test_receive_before_ship_is_refused(merchant, product, location, other_location):
    transfer = create(merchant, location, other_location, TransferLineRequest(product, 1))
    with pytest.raises(InvalidState, match="ship it first"):
        act(services.transfer_receive, merchant, transfer)


def test_transfer_to_the_same_location_is_refused(merchant, product, location):
    with pytest.raises(InvalidRequest):
        create(merchant, location, location, TransferLineRequest(product, 1))


def test_ship_replay_has_no_second_effect(merchant, product, location, other_location):
    source = factories.stock(product, location, 10)
    transfer = create(merchant, location, other_location, TransferLineRequest(product, 4))
    for _ in range(2):
        services.transfer_ship(
            merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key="ship-1"
        )
    assert figures(source)[0] == 6


def move(merchant, source, destination, *lines, **kwargs):
    return services.transfer_move(
        merchant=merchant, source_location=source, destination_location=destination,
        lines=list(lines), actor=None,
        idempotency_key=kwargs.pop("idempotency_key", factories.key()), **kwargs,
    )  # fmt: skip


def test_a_move_ships_and_receives_in_one_transaction(merchant, product, location, other_location):
    source = factories.stock(product, location, 10)
    transfer, replayed = move(
        merchant, location, other_location, TransferLineRequest(product, 4), reference="TR-9"
    )
    assert not replayed
    assert transfer.status == "received"
    assert transfer.shipped_at == transfer.received_at is not None
    destination = StockLevel.objects.get(product=product, location=other_location)
    assert figures(source) == (6, 0, 6, 0, 0)
    assert figures(destination) == (4, 0, 4, 0, 0)
    rows = LedgerEntry.objects.filter(reference="transfer:TR-9").order_by("id")
    assert [row.reason for row in rows] == ["transfer_out", "transfer_in_transit", "transfer_in"]
    assert OutboxEvent.objects.filter(topic="transfer.received").count() == 1
    assert find_drift() == []


def test_a_move_can_leave_the_units_in_transit(merchant, product, location, other_location):
    source = factories.stock(product, location, 10)
    transfer, _ = move(
        merchant, location, other_location, TransferLineRequest(product, 4), receive=False
    )
    assert transfer.status == "in_transit"
    destination = StockLevel.objects.get(product=product, location=other_location)
    assert figures(source) == (6, 0, 6, 0, 0)
    assert figures(destination) == (0, 0, 0, 0, 4)
    received = act(services.transfer_receive, merchant, transfer)
    assert received.status == "received"
    assert figures(destination) == (4, 0, 4, 0, 0)


def test_a_short_move_changes_nothing_and_leaves_no_transfer(
    merchant, product, location, other_location
):
    factories.stock(product, location, 3)
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        move(merchant, location, other_location, TransferLineRequest(product, 4))
    [short] = refused.value.shortages
    assert (short.requested, short.available, short.location) == (4, 3, location.code)
    assert snapshot() == before
    assert not Transfer.objects.exists()


def test_a_move_replays_under_its_key_and_refuses_it_for_another(
    merchant, product, location, other_location
):
    source = factories.stock(product, location, 10)
    first, _ = move(
        merchant, location, other_location, TransferLineRequest(product, 4), idempotency_key="m"
    )
    again, replayed = move(
        merchant, location, other_location, TransferLineRequest(product, 4), idempotency_key="m"
    )
    assert replayed
    assert again.pk == first.pk
    assert figures(source)[0] == 6
    with pytest.raises(IdempotencyKeyReused):
        move(
            merchant, location, other_location, TransferLineRequest(product, 4),
            idempotency_key="m", receive=False,
        )  # fmt: skip
    assert Transfer.objects.count() == 1
