"""POS and supplier events accepted while PostgreSQL cannot be reached: 202 into a Redis
stream, applied exactly once and in the order received when it is back (the drainer), with
their outcomes and the first answer kept for the Idempotency-Key.

The outage here is the process's own record of one (`database_outage`), which sends the feed
to its queue; tests/resilience/test_postgres_outage.py stops a real PostgreSQL."""

from __future__ import annotations

import orjson
import pytest
import redis
from django.conf import settings
from django.db import OperationalError

from apps.core import db_errors
from apps.feeds.models import FeedEvent, QueuedFeedBatch
from apps.feeds.services.queue import _apply_batch, feed_queue_drain, stream_key
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, StockLevel
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys_remembered(settings):
    """The key is not looked up again: a real answer from the database would (rightly) end the
    outage these tests stand in for."""
    settings.STOCKROOM_API_KEY_CACHE_SECONDS = 60


def database_down() -> None:
    db_errors.database_outage.failed(OperationalError("connection refused"))


def database_back() -> None:
    db_errors.database_outage.recovered()


def event(event_id, kind, sku, location, quantity, sequence):
    return {"source": "pos-1", "event_id": event_id, "type": kind, "sku": sku,
            "location": location, "quantity": quantity, "sequence": sequence}  # fmt: skip


def queued() -> list:
    return redis.Redis.from_url(settings.REDIS_URL).xrange(stream_key())


def test_batches_queued_while_down_apply_once_in_the_order_received(merchant, product, location):
    api = client_for(merchant)
    api.get("/api/v1/products/")  # the key is known to this process
    level = factories.stock(product, location, 0)
    database_down()
    receipt = api.post_stock(
        "/api/v1/events", {"events": [event("r-1", "receipt", product.sku, location.code, 3, 1)]},
        key="batch-1",
    )  # fmt: skip
    assert receipt.status_code == 202, receipt.content
    body = receipt.json()
    assert (body["queued"], body["applied"], body["rejected"]) == (1, 0, 0)
    assert body["results"][0]["outcome"] == "queued"
    assert receipt.headers["Location"] == f"/api/v1/events/queued/{body['batch_id']}/"
    # A sale of those 3 units, then bad input: the sale queues, the bad event is refused now.
    sale = api.post_stock(
        "/api/v1/events/",
        {"events": [event("s-1", "sale", product.sku, location.code, 3, 2),
                    {"source": "pos-1", "event_id": "bad", "type": "theft"}]},
    )  # fmt: skip
    assert sale.status_code == 202
    assert [r["outcome"] for r in sale.json()["results"]] == ["queued", "rejected"]
    again = api.post_stock(
        "/api/v1/events/",
        {"events": [event("r-1", "receipt", product.sku, location.code, 3, 1)]},
    )  # the receipt delivered twice (at least once)
    assert again.status_code == 202
    assert len(queued()) == 3
    assert not FeedEvent.objects.exists()
    status = api.get(body["batch_id"].join(["/api/v1/events/queued/", "/"]))
    assert status.json()["status"] == "queued"

    # Back: while batches wait, a new one joins them rather than overtake them.
    database_back()
    late = api.post_stock(
        "/api/v1/events/", {"events": [event("s-2", "sale", product.sku, location.code, 1, 3)]}
    )
    assert late.status_code == 202
    assert feed_queue_drain() == 4
    assert feed_queue_drain() == 0  # nothing twice
    assert queued() == []

    # In order: the receipt before the sale (else the sale would have been refused).
    batches = {b.pk: b for b in QueuedFeedBatch.objects.all()}
    outcomes = [
        [r["outcome"] for r in batches[response.json()["batch_id"]].results]
        for response in (receipt, sale, again, late)
    ]
    # (the sale's batch holds the sale alone: its bad event was refused when it came)
    assert outcomes == [["applied"], ["applied"], ["duplicate"], ["rejected"]]
    level.refresh_from_db()
    assert level.on_hand == 0
    assert LedgerEntry.objects.filter(stock_level=level, reference="pos-1:r-1").count() == 1
    assert LedgerEntry.objects.filter(stock_level=level, reference="pos-1:s-1").count() == 1
    assert find_drift() == []
    applied = api.get(f"/api/v1/events/queued/{body['batch_id']}/").json()
    assert (applied["status"], applied["applied"], applied["results"][0]["outcome"]) == (
        "applied", 1, "applied",
    )  # fmt: skip
    # A retry of the first request with its key answers what it answered then.
    replay = api.post_stock(
        "/api/v1/events/",
        {"events": [event("r-1", "receipt", product.sku, location.code, 3, 1)]},
        key="batch-1",
    )
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (202, "true")
    assert replay.json()["batch_id"] == body["batch_id"]


def test_a_drainer_that_died_after_applying_does_not_apply_twice(merchant, product, location):
    api = client_for(merchant)
    api.get("/api/v1/products/")
    level = factories.stock(product, location, 5)
    database_down()
    batch = api.post_stock(
        "/api/v1/events/", {"events": [event("s-1", "sale", product.sku, location.code, 2, 1)]}
    ).json()["batch_id"]
    database_back()
    # A drainer applied it and died before deleting the entry; the next run finds it again.
    [(entry_id, fields)] = queued()
    _apply_batch(entry_id.decode(), orjson.loads(fields[b"batch"]))
    assert feed_queue_drain() == 1
    assert queued() == []
    level.refresh_from_db()
    assert level.on_hand == 3
    assert QueuedFeedBatch.objects.get().pk == batch
    assert LedgerEntry.objects.filter(reason="sale").count() == 1


def test_events_queued_are_checked_against_the_scope_and_codes_of_then(merchant, product, location):
    api = client_for(merchant)
    api.get("/api/v1/products/")
    database_down()
    batch = api.post_stock(
        "/api/v1/events/",
        {"events": [event("x-1", "sale", "NOPE", location.code, 1, 1),
                    event("x-2", "receipt", product.sku, "nowhere", 1, 2)]},
    ).json()["batch_id"]  # fmt: skip
    database_back()
    feed_queue_drain()
    results = QueuedFeedBatch.objects.get(pk=batch).results
    assert [(r["outcome"], sorted(r["fields"])) for r in results] == [
        ("rejected", ["sku"]), ("rejected", ["location"]),
    ]  # fmt: skip
    assert not StockLevel.objects.exists()


def test_another_merchant_cannot_follow_a_batch(merchant, other_merchant, product, location):
    api, other = client_for(merchant), client_for(other_merchant)
    api.get("/api/v1/products/")
    other.get("/api/v1/products/")
    database_down()
    batch = api.post_stock(
        "/api/v1/events/", {"events": [event("r-1", "receipt", product.sku, location.code, 1, 1)]}
    ).json()["batch_id"]
    database_back()
    assert other.get(f"/api/v1/events/queued/{batch}/").status_code == 404
    assert api.get("/api/v1/events/queued/not-a-batch/").status_code == 404
    stored = orjson.loads(queued()[0][1][b"batch"])
    assert stored["merchant_id"] == merchant.pk
