"""`recorded_at`: history loaded at past times through the services, with every rule kept."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.inventory import services
from apps.inventory.exceptions import InsufficientStock
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, OutboxEvent, Reservation, StockLevel, Transfer
from apps.reports.selectors import ReportScope, stock_as_of
from tests import factories
from tests.admin_helpers import Role, staff

pytestmark = pytest.mark.django_db


def test_changes_in_the_block_are_recorded_at_the_given_time(
    merchant, product, location, other_location, owner
):
    then = timezone.now() - timedelta(days=10)
    with services.recorded_at(then):
        services.stock_receive(
            merchant=merchant, actor=owner, idempotency_key="past-receipt",
            lines=[services.StockLine(product=product, location=location, quantity=10)],
        )  # fmt: skip
        reservation = services.reservation_create(
            merchant=merchant, actor=owner, idempotency_key="past-reserve", ttl_seconds=600,
            lines=[services.ReservationLineRequest(product=product, location=location, quantity=2)],
        )  # fmt: skip
        transfer = services.transfer_create(
            merchant=merchant, source_location=location, destination_location=other_location,
            lines=[services.TransferLineRequest(product=product, quantity=3)], actor=owner,
            idempotency_key="past-transfer",
        )  # fmt: skip
        services.transfer_ship(
            merchant=merchant, transfer_id=transfer.pk, actor=owner, idempotency_key="past-ship"
        )
    with services.recorded_at(then + timedelta(minutes=5)):
        services.reservation_commit(
            merchant=merchant, reservation_id=reservation.pk, actor=owner,
            idempotency_key="past-commit",
        )  # fmt: skip

    entries = LedgerEntry.objects.order_by("id")
    assert [(e.reason, e.created_at) for e in entries] == [
        ("receive", then),
        ("reserve", then),
        ("transfer_out", then),
        ("transfer_in_transit", then),
        ("commit", then + timedelta(minutes=5)),
    ]
    assert set(OutboxEvent.objects.values_list("created_at", flat=True)) == {
        then,
        then + timedelta(minutes=5),
    }
    reservation = Reservation.objects.get()
    assert (reservation.status, reservation.created_at, reservation.expires_at) == (
        "committed",
        then,
        then + timedelta(seconds=600),
    )
    assert reservation.closed_at == then + timedelta(minutes=5)
    assert Transfer.objects.get().shipped_at == then
    assert find_drift() == []
    # The reports see the changes on the day they were recorded: 10 received - 2 sold - 3
    # shipped to the other location, where they are in transit; nothing the day before.
    scope = ReportScope(user=staff(merchant, Role.OWNER))
    rows, _ = stock_as_of(scope, then.date())
    assert {row["location_id"]: (row["on_hand"], row["in_transit"]) for row in rows} == {
        location.pk: (5, 0),
        other_location.pk: (0, 3),
    }
    before, _ = stock_as_of(scope, then.date() - timedelta(days=1))
    assert before == []


def test_outside_the_block_changes_are_recorded_now(merchant, product, location):
    with services.recorded_at(timezone.now() - timedelta(days=3)):
        pass
    start = timezone.now()
    factories.stock(product, location, 4)
    assert LedgerEntry.objects.get().created_at >= start


def test_every_rule_still_applies_in_the_past(merchant, product, location):
    factories.stock(product, location, 2)
    with (
        services.recorded_at(timezone.now() - timedelta(days=1)),
        pytest.raises(InsufficientStock),
    ):
        services.stock_ship(
            merchant=merchant, actor=None, idempotency_key="too-many",
            lines=[services.StockLine(product=product, location=location, quantity=3)],
        )  # fmt: skip
    assert StockLevel.objects.get().on_hand == 2
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    "when",
    [
        pytest.param(datetime(2020, 1, 1), id="naive"),  # noqa: DTZ001
        pytest.param(datetime.now(UTC) + timedelta(hours=1), id="future"),
    ],
)
def test_refuses_a_naive_or_future_time(when):
    with pytest.raises(ValueError, match="recorded_at"), services.recorded_at(when):
        pass
