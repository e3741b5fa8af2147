"""The feed's late counts and late deltas against every other channel's movements.

A count states the quantity at its `occurred_at`: the level becomes the counted figure plus
every on-hand movement recorded after that moment, from any source; a sale, receipt or return
that happened before a count (of any channel) is already in it. So any interleaving of online
writes and delayed, duplicated feed events converges to the result of applying everything in
the order it happened."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.feeds.services.events import InboundEvent, feed_events_apply
from apps.inventory import services
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import StockLevel
from apps.inventory.services import ReservationLineRequest, StockLine, TransferLineRequest
from tests import factories

ONLINE = ("receive", "sale", "adjust", "reserve_commit", "reserve_release", "transfer_out",
          "transfer_in", "count")  # fmt: skip
FEED = ("feed_sale", "feed_receipt", "feed_return", "feed_count")


def quantity_for(kind: str) -> st.SearchStrategy[int]:
    if kind in ("count", "feed_count"):
        return st.integers(400, 600)  # far from zero: no step is ever refused in either run
    if kind == "adjust":
        return st.integers(-9, 9).filter(bool)
    return st.integers(1, 9)


steps = st.lists(
    st.sampled_from(ONLINE + FEED).flatmap(lambda k: st.tuples(st.just(k), quantity_for(k))),
    min_size=1,
    max_size=14,
)


@dataclass
class Run:
    """One product at two locations (`here`, where everything happens, and `there`, the
    other end of transfers), driven through the services."""

    merchant: object
    here: object
    there: object
    tag: str
    product: object = None
    outcomes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.product = factories.product(self.merchant)
        factories.stock(self.product, self.here, 1000)
        factories.stock(self.product, self.there, 1000)

    def online(self, kind: str, quantity: int) -> None:
        m, p, here, key = self.merchant, self.product, self.here, factories.key
        lines = [StockLine(p, here, quantity)]
        if kind == "receive":
            services.stock_receive(merchant=m, lines=lines, actor=None, idempotency_key=key())
        elif kind == "sale":
            services.stock_ship(merchant=m, lines=lines, actor=None, idempotency_key=key())
        elif kind == "adjust":
            services.stock_adjust(merchant=m, lines=lines, reason="prop", actor=None,
                                  idempotency_key=key())  # fmt: skip
        elif kind == "count":
            services.stock_count(merchant=m, lines=lines, actor=None, idempotency_key=key())
        elif kind.startswith("reserve_"):
            held = services.reservation_create(
                merchant=m, lines=[ReservationLineRequest(p, quantity, here)], actor=None,
                idempotency_key=key(),
            )  # fmt: skip
            close = (services.reservation_commit if kind == "reserve_commit"
                     else services.reservation_release)  # fmt: skip
            close(merchant=m, reservation_id=held.pk, actor=None, idempotency_key=key())
        else:
            source, destination = (
                (here, self.there) if kind == "transfer_out" else (self.there, here)
            )
            transfer = services.transfer_create(
                merchant=m, source_location=source, destination_location=destination,
                lines=[TransferLineRequest(p, quantity)], actor=None, idempotency_key=key(),
            )  # fmt: skip
            for step in (services.transfer_ship, services.transfer_receive):
                step(merchant=m, transfer_id=transfer.pk, actor=None, idempotency_key=key())

    def stamp(self, index: int, kind: str, quantity: int) -> InboundEvent:
        """A feed event as it happens (its time taken now), to be delivered whenever."""
        return InboundEvent(
            source="pos-1" if index % 2 else "supplier-1",
            event_id=f"{self.tag}-{index}",
            type=kind.removeprefix("feed_"),
            product=self.product,
            location=self.here,
            quantity=quantity,
            occurred_at=timezone.now(),
        )

    def deliver(self, events: list[InboundEvent]) -> None:
        self.outcomes += [
            o.outcome for o in feed_events_apply(merchant=self.merchant, events=events)
        ]

    def figures(self) -> list[tuple]:
        return list(
            StockLevel.objects.filter(product=self.product)
            .order_by("location__priority")
            .values_list("on_hand", "reserved", "damaged", "in_transit")
        )


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(script=steps, data=st.data())
def test_any_interleaving_of_online_writes_and_late_duplicated_feed_events_converges(script, data):
    merchant = factories.merchant()
    here, there = (factories.location(merchant, priority=p) for p in (1, 2))

    in_order = Run(merchant, here, there, "in-order")
    for index, (kind, quantity) in enumerate(script):
        if kind in FEED:
            in_order.deliver([in_order.stamp(index, kind, quantity)])
        else:
            in_order.online(kind, quantity)

    late = Run(merchant, here, there, "late")
    pending: list[tuple[int, InboundEvent]] = []  # (deliver after this step, event)
    for index, (kind, quantity) in enumerate(script):
        if kind in FEED:
            event = late.stamp(index, kind, quantity)
            copies = data.draw(st.integers(1, 2), label=f"deliveries of event {index}")
            for _ in range(copies):
                after = data.draw(st.integers(index, len(script)), label="delivered after")
                pending.append((after, event))
        else:
            late.online(kind, quantity)
        due = [event for after, event in pending if after <= index]
        pending = [(after, event) for after, event in pending if after > index]
        if due:
            late.deliver(data.draw(st.permutations(due), label="batch order"))
    late.deliver(data.draw(st.permutations([event for _, event in pending]), label="the rest"))

    assert "rejected" not in in_order.outcomes + late.outcomes
    assert late.figures() == in_order.figures()
    assert find_drift() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_a_late_count_racing_online_sales_keeps_every_one_of_them():
    """The count reads what came after its moment under the level's lock: a sale committing
    meanwhile is either in that sum or applied on top, never lost or counted twice."""
    merchant = factories.merchant()
    product, location = factories.product(merchant), factories.location(merchant)
    factories.stock(product, location, 500)
    counted_at = timezone.now()
    workers, sales_each = 8, 5
    barrier = threading.Barrier(workers + 1)

    def sell(_: int) -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(sales_each):
                services.stock_ship(
                    merchant=merchant, lines=[StockLine(product, location, 1)], actor=None,
                    idempotency_key=factories.key(),
                )  # fmt: skip
        finally:
            connection.close()

    def count(_: int) -> list[str]:
        try:
            barrier.wait(timeout=30)
            event = InboundEvent(source="counter", event_id="c-1", type="count", product=product,
                                 location=location, quantity=300, occurred_at=counted_at)  # fmt: skip
            return [o.outcome for o in feed_events_apply(merchant=merchant, events=[event])]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers + 1) as pool:
        sellers = [pool.submit(sell, i) for i in range(workers)]
        counted = pool.submit(count, 0)
        assert [seller.result() for seller in sellers] == [None] * workers
        assert counted.result() == ["applied"]
    level = StockLevel.objects.get(product=product, location=location)
    assert level.on_hand == 300 - workers * sales_each
    assert find_drift() == []
