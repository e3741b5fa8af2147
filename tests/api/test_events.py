"""events/: the POS and supplier feed. Duplicates have no second effect, counts older than
the newest applied count are stale, and any delivery order converges to the in-order result."""

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.feeds.models import FeedEvent
from apps.inventory.models import LedgerEntry, StockLevel
from tests import factories
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def event(product, location, event_id, type_, quantity, sequence, source="pos-1"):
    return {"source": source, "event_id": event_id, "type": type_, "sku": product.sku,
            "location": location.code, "quantity": quantity, "sequence": sequence}  # fmt: skip


def on_hand(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).on_hand


def test_outcomes_of_a_batch(api, merchant, product, location, stocked):
    response = api.post_stock("/api/v1/events/", {"events": [
        event(product, location, "s1", "sale", 3, 1),
        event(product, location, "r1", "receipt", 5, 2, source="supplier-a"),
        event(product, location, "ret1", "return", 1, 3),
        event(product, location, "c1", "count", 20, 4),
        event(product, location, "s1", "sale", 3, 1),
        {"source": "pos-1", "event_id": "bad", "type": "theft", "sku": product.sku},
        event(product, location, "x1", "sale", 1, 5) | {"sku": "NOPE"},
        event(product, location, "big", "sale", 500, 6),
    ]})  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    outcomes = [(r["event_id"], r["outcome"]) for r in body["results"]]
    assert outcomes == [("s1", "applied"), ("r1", "applied"), ("ret1", "applied"),
                        ("c1", "applied"), ("s1", "duplicate"), ("bad", "rejected"),
                        ("x1", "rejected"), ("big", "rejected")]  # fmt: skip
    assert (body["applied"], body["duplicate"], body["stale"], body["rejected"]) == (4, 1, 0, 3)
    results = body["results"]
    assert set(results[5]["fields"]) >= {"type", "location", "quantity"}
    assert results[6]["fields"] == {"sku": ["Unknown SKU NOPE."]}
    assert results[7]["code"] == "insufficient_stock"
    assert results[4]["ledger_ids"] == results[0]["ledger_ids"]
    assert on_hand(product, location) == 20
    sale = LedgerEntry.objects.get(pk=results[0]["ledger_ids"][0])
    assert (sale.reason, sale.source, sale.reference) == ("sale", "pos", "pos-1:s1")
    receipt = LedgerEntry.objects.get(pk=results[1]["ledger_ids"][0])
    assert receipt.source == "supplier"
    assert FeedEvent.objects.filter(merchant=merchant).count() == 4


def test_an_older_count_is_stale_and_a_late_sale_before_the_count_is_absorbed(
    api, product, location, stocked
):
    api.post_stock("/api/v1/events/", {"events": [event(product, location, "c2", "count", 30, 10)]})
    late = api.post_stock("/api/v1/events/", {"events": [
        event(product, location, "c1", "count", 99, 5),
        event(product, location, "s1", "sale", 4, 7),
        event(product, location, "s2", "sale", 2, 12),
    ]}).json()["results"]  # fmt: skip
    assert [r["outcome"] for r in late] == ["stale", "stale", "applied"]
    assert on_hand(product, location) == 28


def test_a_late_count_keeps_the_newer_sales(api, product, location, stocked):
    api.post_stock("/api/v1/events/", {"events": [event(product, location, "s9", "sale", 3, 9)]})
    api.post_stock("/api/v1/events/", {"events": [event(product, location, "c5", "count", 40, 5)]})
    assert on_hand(product, location) == 37  # counted 40 at 5, sold 3 at 9


def test_occurred_at_orders_events_across_sources(api, product, location):
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def timed(event_id, type_, quantity, minutes, source):
        body = event(product, location, event_id, type_, quantity, None, source=source)
        return {**body, "occurred_at": (at + timedelta(minutes=minutes)).isoformat()}

    api.post_stock("/api/v1/events/", {"events": [timed("r", "receipt", 10, -60, "supplier")]})
    api.post_stock("/api/v1/events/", {"events": [timed("s", "sale", 2, 10, "pos-2")]})
    api.post_stock("/api/v1/events/", {"events": [timed("c", "count", 15, 5, "counter")]})
    assert on_hand(product, location) == 13  # counted 15 at 12:05, sold 2 at 12:10


def timed_event(product, location, event_id, type_, quantity, at, source="pos-1"):
    return {**event(product, location, event_id, type_, quantity, None, source=source),
            "occurred_at": at.isoformat()}  # fmt: skip


def test_a_late_count_keeps_every_later_movement_from_any_source(
    api, merchant, product, location, other_location
):
    """On hand 25; a POS count of 25 is taken; then an online order of 5 is reserved and
    committed (20), a receipt, a transfer out and an adjustment follow; the count arrives last.
    It states the quantity at its occurred_at: everything recorded after it still counts."""
    factories.stock(product, location, 25)
    counted_at = timezone.now()
    time.sleep(0.01)
    order = api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 5}]}).json()  # fmt: skip
    api.post_stock(f"/api/v1/reservations/{order['id']}/commit/")
    api.post_stock("/api/v1/stock/receipts/", {"sku": product.sku, "location": location.code,
                                               "quantity": 7})  # fmt: skip
    transfer = api.post_stock("/api/v1/transfers/", {
        "source": location.code, "destination": other_location.code,
        "lines": [{"sku": product.sku, "quantity": 3}]}).json()  # fmt: skip
    api.post_stock(f"/api/v1/transfers/{transfer['id']}/ship/")
    api.post_stock("/api/v1/stock/adjustments/", {"sku": product.sku, "location": location.code,
                                                  "delta": -1, "reason": "Broken"})  # fmt: skip
    assert on_hand(product, location) == 25 - 5 + 7 - 3 - 1

    late = api.post_stock("/api/v1/events/", {"events": [
        timed_event(product, location, "count-1", "count", 25, counted_at)]})  # fmt: skip
    assert late.json()["results"][0]["outcome"] == "applied"
    assert on_hand(product, location) == 25 - 5 + 7 - 3 - 1  # no phantom stock
    entry = LedgerEntry.objects.get(pk=late.json()["results"][0]["ledger_ids"][0])
    assert (entry.reason, entry.on_hand_delta, entry.occurred_at) == ("count", 0, counted_at)

    # The shelf really held 24 at that moment: the level moves by exactly that difference.
    api.post_stock("/api/v1/events/", {"events": [
        timed_event(product, location, "count-2", "count", 24, counted_at + timedelta(
            microseconds=1))]})  # fmt: skip
    assert on_hand(product, location) == 24 - 5 + 7 - 3 - 1


def test_late_feed_events_older_than_any_count_are_stale(api, merchant, product, location):
    """A count taken by any channel (here the API) already reflects the sales and receipts
    that happened before it: their late delivery changes nothing."""
    factories.stock(product, location, 10)
    sold_at = timezone.now()
    time.sleep(0.01)
    api.post_stock("/api/v1/stock/counts/", {"sku": product.sku, "location": location.code,
                                             "quantity": 8})  # fmt: skip
    late = api.post_stock("/api/v1/events/", {"events": [
        timed_event(product, location, "s-1", "sale", 2, sold_at),
        timed_event(product, location, "r-1", "receipt", 4, sold_at, source="supplier-1"),
        timed_event(product, location, "c-0", "count", 3, sold_at, source="counter"),
    ]}).json()["results"]  # fmt: skip
    assert [(r["outcome"], r["code"]) for r in late] == [("stale", "stale")] * 3
    assert "count" in late[0]["detail"]
    assert on_hand(product, location) == 8
    sold_later = api.post_stock("/api/v1/events/", {"events": [
        timed_event(product, location, "s-2", "sale", 2, timezone.now())]}).json()  # fmt: skip
    assert sold_later["applied"] == 1
    assert on_hand(product, location) == 6


def test_the_batch_is_idempotent_and_needs_a_key(api, product, location, stocked):
    body = {"events": [event(product, location, "s1", "sale", 1, 1)]}
    first = api.post_stock("/api/v1/events/", body, key="batch-1")
    replay = api.post_stock("/api/v1/events/", body, key="batch-1")
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert on_hand(product, location) == 9
    assert_problem(api.post("/api/v1/events/", body, format="json"), 400, "invalid_request")
    assert_problem(api.post_stock("/api/v1/events/", {"events": []}), 400, "invalid_request")


def _in_order(start: int, events: list[dict]) -> int:
    level = start
    for item in sorted(events, key=lambda e: e["sequence"]):
        if item["type"] == "count":
            level = item["quantity"]
        else:
            level += -item["quantity"] if item["type"] == "sale" else item["quantity"]
    return level


feed = st.lists(
    st.tuples(st.sampled_from(["sale", "receipt", "return", "count"]), st.integers(1, 20),
              st.integers(500, 900), st.booleans()),
    min_size=1, max_size=14,
)  # fmt: skip


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(feed=feed, seed=st.integers(0, 10_000))
def test_duplicated_and_shuffled_events_converge_to_the_in_order_result(feed, seed):
    merchant = factories.merchant()
    product, location = factories.product(merchant), factories.location(merchant)
    start = 300
    factories.stock(product, location, start)
    events = [
        event(product, location, f"e{i}", kind, count if kind == "count" else quantity, i,
              source="pos-1" if odd else "supplier-1")
        for i, (kind, quantity, count, odd) in enumerate(feed)
    ]  # fmt: skip
    rng = random.Random(seed)
    delivery = events + rng.sample(events, k=len(events) // 2)  # at-least-once: duplicates
    rng.shuffle(delivery)
    api = client_for(merchant)
    outcomes = []
    for start_at in range(0, len(delivery), 3):  # several batches
        response = api.post_stock("/api/v1/events/", {"events": delivery[start_at : start_at + 3]})
        outcomes += [r["outcome"] for r in response.json()["results"]]
    assert "rejected" not in outcomes
    assert outcomes.count("duplicate") >= len(delivery) - len(events)
    assert on_hand(product, location) == _in_order(start, events)
    assert FeedEvent.objects.filter(merchant=merchant).count() == len(events)
