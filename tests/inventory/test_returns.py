"""Returns and cancellations after commit: tied to the reservation and its order, never more
than was sold, to on hand or to damaged, with their ledger rows, a stream event and a partner
webhook."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.errors import InvalidRequest, InvalidState, ObjectNotFound
from apps.events.selectors import events_since
from apps.events.services import outbox_publish_pending
from apps.inventory import services
from apps.inventory.exceptions import ReturnExceedsCommitted
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, OutboxEvent, ReservationReturn, StockLevel
from apps.inventory.services import ReservationLineRequest, ReturnLineRequest
from apps.webhooks.models import WebhookEndpoint
from tests import factories
from tests.admin_helpers import Role, logged_in, staff
from tests.inventory.helpers import figures, snapshot
from tests.inventory.test_concurrency import hammer
from tests.realstack import webhook_receiver


def sold(merchant, *lines, order_ref="WEB-1"):
    reservation = services.reservation_create(
        merchant=merchant, lines=list(lines), actor=None, idempotency_key=factories.key(),
        order_ref=order_ref,
    )  # fmt: skip
    services.reservation_commit(
        merchant=merchant, reservation_id=reservation.pk, actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    return reservation


def give_back(merchant, reservation, lines, disposition="restock", **kwargs):
    kwargs.setdefault("idempotency_key", factories.key())
    return services.reservation_return(
        merchant=merchant, reservation_id=reservation.pk, lines=lines, disposition=disposition,
        actor=None, **kwargs,
    )  # fmt: skip


@pytest.mark.django_db
def test_a_restocked_return_goes_back_on_hand_referencing_reservation_and_order(
    merchant, product, location
):
    level = factories.stock(product, location, 10)
    reservation = sold(merchant, ReservationLineRequest(product, 4, location), order_ref="WEB-7")
    assert figures(level)[0] == 6

    record = give_back(
        merchant, reservation, [ReturnLineRequest(product, 3)], reason="Wrong size",
        idempotency_key="ret-1",
    )  # fmt: skip
    assert figures(level) == (9, 0, 9, 0, 0)
    assert (record.disposition, record.cancellation, record.reason) == (
        "restock",
        False,
        "Wrong size",
    )
    assert [(line.product_id, line.location_id, line.quantity) for line in record.lines.all()] == [
        (product.pk, location.pk, 3)
    ]
    entry = LedgerEntry.objects.filter(stock_level=level).latest("id")
    assert (entry.reason, entry.on_hand_delta, entry.damaged_delta) == ("return", 3, 0)
    assert entry.reference == f"reservation:{reservation.pk}"
    assert entry.note == "Order WEB-7 returned (restock): Wrong size"
    event = OutboxEvent.objects.filter(topic="reservation.returned").get()
    assert event.payload == {
        "return_id": str(record.pk), "reservation_id": str(reservation.pk), "order_ref": "WEB-7",
        "disposition": "restock", "cancellation": False, "reason": "Wrong size",
        "created_at": record.created_at.isoformat(),
        "lines": [{"sku": product.sku, "location": location.code, "quantity": 3}],
    }  # fmt: skip

    before = snapshot()
    replay = give_back(
        merchant, reservation, [ReturnLineRequest(product, 3)], reason="Wrong size",
        idempotency_key="ret-1",
    )  # fmt: skip
    assert (replay.pk, replay.replayed) == (record.pk, True)
    assert snapshot() == before
    assert find_drift() == []


@pytest.mark.django_db
def test_a_damaged_return_is_set_aside(merchant, product, location):
    level = factories.stock(product, location, 10)
    reservation = sold(merchant, ReservationLineRequest(product, 4, location))
    give_back(merchant, reservation, [ReturnLineRequest(product, 1)], disposition="damaged")
    assert figures(level) == (6, 0, 6, 1, 0)
    assert LedgerEntry.objects.filter(stock_level=level).latest("id").damaged_delta == 1


@pytest.mark.django_db
def test_never_more_than_was_sold_over_all_returns(merchant, product, location):
    other = factories.product(merchant)
    factories.stock(product, location, 10)
    factories.stock(other, location, 10)
    reservation = sold(
        merchant,
        ReservationLineRequest(product, 5, location),
        ReservationLineRequest(other, 2, location),
    )
    give_back(merchant, reservation, [ReturnLineRequest(product, 3)])
    before = snapshot()
    with pytest.raises(ReturnExceedsCommitted) as refused:
        give_back(
            merchant, reservation, [ReturnLineRequest(product, 2), ReturnLineRequest(product, 1),
                                    ReturnLineRequest(other, 1)],
        )  # fmt: skip
    assert refused.value.details["lines"] == [
        {"sku": product.sku, "requested": 3, "committed": 5, "returned": 3, "returnable": 2}
    ]
    assert "at most 2" in refused.value.message
    assert snapshot() == before
    assert ReservationReturn.objects.count() == 1


@pytest.mark.django_db
def test_only_a_committed_reservation_takes_returns(merchant, product, location):
    factories.stock(product, location, 10)
    active = services.reservation_create(
        merchant=merchant, lines=[ReservationLineRequest(product, 2, location)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    before = snapshot()
    with pytest.raises(InvalidState, match="release it instead"):
        give_back(merchant, active, [ReturnLineRequest(product, 1)])
    assert snapshot() == before
    services.reservation_release(
        merchant=merchant, reservation_id=active.pk, actor=None, idempotency_key=factories.key()
    )
    before = snapshot()
    with pytest.raises(InvalidState, match="is released"):
        give_back(merchant, active, None)
    assert snapshot() == before
    assert not ReservationReturn.objects.exists()


@pytest.mark.django_db
def test_bad_return_requests_are_refused_and_change_nothing(
    merchant, other_merchant, product, location
):
    factories.stock(product, location, 10)
    reservation = sold(merchant, ReservationLineRequest(product, 2, location))
    not_sold = factories.product(merchant)
    before = snapshot()
    with pytest.raises(InvalidRequest, match="was not sold"):
        give_back(merchant, reservation, [ReturnLineRequest(not_sold, 1)])
    with pytest.raises(InvalidRequest) as bad:
        give_back(merchant, reservation, [ReturnLineRequest(product, 1)], disposition="lost")
    assert bad.value.field == "disposition"
    with pytest.raises(InvalidRequest):
        give_back(merchant, reservation, [ReturnLineRequest(product, 0)])
    with pytest.raises(ObjectNotFound):  # another merchant's reservation does not exist
        give_back(
            other_merchant, reservation, [ReturnLineRequest(factories.product(other_merchant), 1)]
        )
    with pytest.raises(InvalidRequest, match="Unknown product"):  # nor do its products
        give_back(other_merchant, reservation, [ReturnLineRequest(product, 1)])
    assert snapshot() == before


@pytest.mark.django_db
def test_a_cancellation_after_commit_takes_back_what_is_left_where_it_was_sold(merchant, product):
    first, second = (
        factories.location(merchant, priority=1),
        factories.location(merchant, priority=2),
    )
    at_first, at_second = factories.stock(product, first, 3), factories.stock(product, second, 5)
    reservation = sold(merchant, ReservationLineRequest(product, 6))  # 3 + 3, by priority
    give_back(merchant, reservation, [ReturnLineRequest(product, 2, location=first)])
    cancelled = give_back(merchant, reservation, None, reason="Customer cancelled")
    assert cancelled.cancellation is True
    assert sorted((line.location_id, line.quantity) for line in cancelled.lines.all()) == [
        (first.pk, 1), (second.pk, 3),
    ]  # fmt: skip
    assert figures(at_first)[0] == 3
    assert figures(at_second)[0] == 5
    with pytest.raises(InvalidState, match="nothing is left"):
        give_back(merchant, reservation, None)
    assert "cancelled after commit" in LedgerEntry.objects.latest("id").note


@pytest.mark.django_db
def test_a_return_may_come_back_to_another_location_but_must_name_it_when_unclear(
    merchant, product
):
    first, second = (
        factories.location(merchant, priority=1),
        factories.location(merchant, priority=2),
    )
    store = factories.location(merchant, priority=9)
    factories.stock(product, first, 3)
    factories.stock(product, second, 5)
    reservation = sold(merchant, ReservationLineRequest(product, 6))
    with pytest.raises(InvalidRequest, match="name the location"):
        give_back(merchant, reservation, [ReturnLineRequest(product, 1)])
    give_back(merchant, reservation, [ReturnLineRequest(product, 2, location=store)])
    assert StockLevel.objects.get(product=product, location=store).on_hand == 2
    assert find_drift() == []


@pytest.mark.django_db
def test_returns_reach_the_stream_and_subscribed_partners(
    merchant, product, location, django_capture_on_commit_callbacks
):
    factories.stock(product, location, 10)
    reservation = sold(merchant, ReservationLineRequest(product, 2, location), order_ref="WEB-3")
    record = give_back(merchant, reservation, [ReturnLineRequest(product, 2)])
    streamed = [
        e
        for e in events_since(merchant_id=merchant.pk, since=0)
        if e["type"] == "reservation.returned"
    ]
    assert [e["data"]["return_id"] for e in streamed] == [str(record.pk)]
    with webhook_receiver([200]) as receiver:
        WebhookEndpoint.objects.create(
            merchant=merchant, name="ERP", url=receiver.url, event_types=["reservation.returned"]
        )
        with django_capture_on_commit_callbacks(execute=True):
            outbox_publish_pending()
    [delivered] = receiver.requests
    assert delivered.headers["Stockroom-Event"] == "reservation.returned"
    assert delivered.json["data"]["order_ref"] == "WEB-3"
    assert delivered.json["data"]["lines"] == [
        {"sku": product.sku, "location": location.code, "quantity": 2}
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_racing_returns_of_one_reservation_never_take_back_more_than_was_sold(
    merchant, product, location
):
    level = factories.stock(product, location, 20)
    reservation = sold(merchant, ReservationLineRequest(product, 5, location))

    def back(i: int):
        return give_back(merchant, reservation, [ReturnLineRequest(product, 2)])

    results = hammer(back, workers=12)
    taken = [r for r in results if isinstance(r, ReservationReturn)]
    refused = [r for r in results if isinstance(r, ReturnExceedsCommitted)]
    assert len(taken) == 2  # 2 + 2 of the 5 sold; a third 2 would be 6
    assert len(refused) == 10, [r for r in results if not isinstance(r, ReservationReturn)]
    assert figures(level)[0] == 15 + 4
    assert find_drift() == []


@pytest.mark.django_db
def test_the_reservation_page_lists_its_returns(client, merchant, product, location):
    factories.stock(product, location, 10)
    reservation = sold(merchant, ReservationLineRequest(product, 3, location))
    give_back(merchant, reservation, [ReturnLineRequest(product, 2)], reason="Scratched",
              disposition="damaged")  # fmt: skip
    logged_in(client, staff(merchant, Role.VIEWER))
    page = client.get(reverse("admin:inventory_reservation_change", args=[reservation.pk]))
    html = page.content.decode()
    assert f"2 {product.sku} at {location.code}" in html
    assert "Scratched" in html
    assert "Damaged (set aside)" in html
