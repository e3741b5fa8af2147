"""Retries racing each other: the same Idempotency-Key or the same feed events sent from
several connections at once still have exactly one effect."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from apps.feeds.models import FeedEvent
from apps.inventory.models import LedgerEntry, StockLevel
from tests import factories
from tests.api.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]
THREADS = 6


def _in_threads(call):
    def run(_):
        try:
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def test_racing_retries_with_one_key_apply_once():
    merchant = factories.merchant()
    product, location = factories.product(merchant), factories.location(merchant)
    api = client_for(merchant)
    body = {"sku": product.sku, "location": location.code, "quantity": 7}
    responses = _in_threads(lambda: api.post_stock("/api/v1/stock/receipts/", body, key="race"))
    assert {r.status_code for r in responses} == {201}
    assert all(r.json() == responses[0].json() for r in responses)
    assert StockLevel.objects.get(product=product, location=location).on_hand == 7
    assert LedgerEntry.objects.filter(merchant=merchant).count() == 1


def test_racing_deliveries_of_the_same_events_apply_once():
    merchant = factories.merchant()
    product, location = factories.product(merchant), factories.location(merchant)
    factories.stock(product, location, 100)
    api = client_for(merchant)
    events = [{"source": "pos", "event_id": f"s{i}", "sequence": i, "type": "sale",
               "sku": product.sku, "location": location.code, "quantity": 1}
              for i in range(10)]  # fmt: skip
    responses = _in_threads(lambda: api.post_stock("/api/v1/events/", {"events": events}))
    outcomes = [r["outcome"] for response in responses for r in response.json()["results"]]
    assert outcomes.count("applied") == 10
    assert outcomes.count("duplicate") == 10 * (THREADS - 1)
    assert StockLevel.objects.get(product=product, location=location).on_hand == 90
    assert FeedEvent.objects.filter(merchant=merchant).count() == 10
