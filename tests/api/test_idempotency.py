"""Idempotency-Key: a replay returns the first response with no second effect; the same key
with a different request is 422; keys are per merchant."""

import pytest

from apps.inventory.models import IdempotencyRecord, LedgerEntry, Reservation, StockLevel
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def test_replay_returns_the_first_response_without_a_second_effect(
    api, merchant, product, location
):
    body = {"sku": product.sku, "location": location.code, "quantity": 5}
    first = api.post_stock("/api/v1/stock/receipts/", body, key="receipt-1")
    replay = api.post_stock("/api/v1/stock/receipts/", body, key="receipt-1")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert StockLevel.objects.get(product=product, location=location).on_hand == 5
    assert LedgerEntry.objects.filter(merchant=merchant).count() == 1
    record = IdempotencyRecord.objects.get(merchant=merchant, key="receipt-1")
    assert record.response_status == 201
    assert record.response_body == first.json()


def test_same_key_with_a_different_body_or_endpoint_is_422(api, product, location):
    body = {"sku": product.sku, "location": location.code, "quantity": 5}
    api.post_stock("/api/v1/stock/receipts/", body, key="k")
    changed = api.post_stock("/api/v1/stock/receipts/", {**body, "quantity": 6}, key="k")
    assert_problem(changed, 422, "idempotency_key_reused")
    elsewhere = api.post_stock("/api/v1/stock/damages/", {**body, "quantity": 1}, key="k")
    assert_problem(elsewhere, 422, "idempotency_key_reused")
    assert StockLevel.objects.get(product=product, location=location).on_hand == 5


def test_a_refused_request_does_not_use_up_its_key(api, product, location):
    body = {"sku": product.sku, "location": location.code, "quantity": 5}
    assert_problem(api.post_stock("/api/v1/stock/shipments/", body, key="k"), 409,
                   "insufficient_stock")  # fmt: skip
    api.post_stock("/api/v1/stock/receipts/", {**body, "quantity": 9})
    assert api.post_stock("/api/v1/stock/shipments/", body, key="k").status_code == 201


def test_keys_are_per_merchant(api, other_api, product, location, other_merchant):
    from tests import factories

    theirs = factories.product(other_merchant)
    their_location = factories.location(other_merchant)
    api.post_stock("/api/v1/stock/receipts/",
                   {"sku": product.sku, "location": location.code, "quantity": 1}, key="same")  # fmt: skip
    response = other_api.post_stock(
        "/api/v1/stock/receipts/",
        {"sku": theirs.sku, "location": their_location.code, "quantity": 2}, key="same",
    )  # fmt: skip
    assert response.status_code == 201
    assert StockLevel.objects.get(product=theirs).on_hand == 2


def test_reservation_replay_returns_the_same_reservation(api, product, location, stocked):
    body = {"lines": [{"sku": product.sku, "quantity": 3}], "order_ref": "O-1"}
    first = api.post_stock("/api/v1/reservations/", body, key="r1")
    replay = api.post_stock("/api/v1/reservations/", body, key="r1")
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    assert Reservation.objects.count() == 1
    assert StockLevel.objects.get(product=product, location=location).reserved == 3
    commit = api.post_stock(f"/api/v1/reservations/{first.json()['id']}/commit/", key="c1")
    again = api.post_stock(f"/api/v1/reservations/{first.json()['id']}/commit/", key="c1")
    assert commit.json() == again.json()
    assert again.status_code == 200
    assert StockLevel.objects.get(product=product, location=location).on_hand == 7


def test_a_retry_answers_what_the_first_call_answered_even_if_it_would_now_fail(
    api, product, location, stocked, django_assert_max_num_queries
):
    body = {"lines": [{"sku": product.sku, "location": location.code, "quantity": 10}]}
    first = api.post_stock("/api/v1/reservations/", body, key="r-all")
    assert first.status_code == 201
    product.is_active = False  # the same request now fails before reaching the stock
    product.save(update_fields=["is_active"])
    retry = api.post_stock("/api/v1/reservations/", body, key="r-all")
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    product.is_active = True
    product.save(update_fields=["is_active"])
    # A new key finds no stock: refused without looking for a stored response.
    with django_assert_max_num_queries(10) as queries:
        refused = api.post_stock("/api/v1/reservations/", body, key="r-none")
    assert_problem(refused, 409, "insufficient_stock")
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in reads if "inventory_idempotencyrecord" in sql]
    assert not IdempotencyRecord.objects.filter(key="r-none").exists()
    assert StockLevel.objects.get(product=product, location=location).reserved == 10


def test_product_writes_honour_an_optional_key(api, merchant):
    body = {"sku": "NEW-1", "name": "New"}
    first = api.post("/api/v1/products/", body, format="json", headers={"Idempotency-Key": "p"})
    replay = api.post("/api/v1/products/", body, format="json", headers={"Idempotency-Key": "p"})
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    assert replay["Idempotent-Replayed"] == "true"
    other = api.post("/api/v1/products/", {**body, "name": "Other"}, format="json",
                     headers={"Idempotency-Key": "p"})  # fmt: skip
    assert_problem(other, 422, "idempotency_key_reused")
    without_key = api.post("/api/v1/products/", body, format="json")
    assert_problem(without_key, 400, "invalid_request")  # the SKU exists: no duplicate


def test_a_key_older_than_the_retention_window_is_new_again(
    api, merchant, product, location, settings
):
    """Records are kept STOCKROOM_IDEMPOTENCY_RETENTION_HOURS: past that a key is treated as
    new, whether the periodic prune has run or not."""
    from datetime import timedelta

    from django.utils import timezone

    body = {"sku": product.sku, "location": location.code, "quantity": 5}
    first = api.post_stock("/api/v1/stock/receipts/", body, key="nightly-import")
    window = timedelta(hours=settings.STOCKROOM_IDEMPOTENCY_RETENTION_HOURS)
    IdempotencyRecord.objects.filter(key="nightly-import").update(
        created_at=timezone.now() - window - timedelta(minutes=1)
    )
    again = api.post_stock("/api/v1/stock/receipts/", body, key="nightly-import")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json()["ledger_ids"] != first.json()["ledger_ids"]
    assert StockLevel.objects.get(product=product, location=location).on_hand == 10
    # Within the window the new first response is what a retry gets (its entries only).
    replay = api.post_stock("/api/v1/stock/receipts/", body, key="nightly-import")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == again.json()
    # An old key may even carry another request now.
    IdempotencyRecord.objects.filter(key="nightly-import").update(
        created_at=timezone.now() - window - timedelta(minutes=1)
    )
    other = api.post_stock("/api/v1/stock/receipts/", {**body, "quantity": 1}, key="nightly-import")
    assert other.status_code == 201
    assert StockLevel.objects.get(product=product, location=location).on_hand == 11
