"""Idempotency-Key: a replay returns the first response with no second effect; the same key
with a different request is 422; keys are per merchant."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.api.idempotency import remember_response, stored_response
from apps.catalog.services import MemberRequest, substitution_group_create
from apps.core import idempotency
from apps.core.models import IdempotencyRecord
from apps.inventory.models import LedgerEntry, Reservation, StockLevel
from tests import factories
from tests.api.operations import concrete, operation_id, operations
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


DELETES = operations(("delete",))


@pytest.mark.parametrize("operation", DELETES, ids=operation_id)
def test_a_delete_with_a_key_is_204_and_its_retry_replays_the_204(api, merchant, operation):
    _, template = operation
    product, location = factories.product(merchant), factories.location(merchant)
    substitution_group_create(  # `code` names the location and the group
        merchant=merchant, code=location.code, name="Group",
        members=[MemberRequest(product, 1), MemberRequest(factories.product(merchant), 2)],
    )  # fmt: skip
    values = {"sku": product.sku, "code": location.code, "warehouse_id": location.code}
    if "{inventory_id}" in template:
        values["inventory_id"] = str(factories.stock(product, location, 0).pk)
    path = concrete(template, values)
    first = api.delete(path, headers={"Idempotency-Key": "delete-1"})
    assert (first.status_code, first.content) == (204, b"")
    assert_problem(api.get(path), 404, "not_found")
    record = IdempotencyRecord.objects.get(merchant=merchant, key="delete-1")
    assert (record.response_status, record.response_body) == (204, None)
    retry = api.delete(path, headers={"Idempotency-Key": "delete-1"})
    assert (retry.status_code, retry.content) == (204, b"")
    assert retry["Idempotent-Replayed"] == "true"
    # A new request: nothing left to delete.
    assert_problem(api.delete(path, headers={"Idempotency-Key": "delete-2"}), 404, "not_found")


@pytest.mark.parametrize(
    "data",
    [None, {}, [], "", {"price": Decimal("1.50"), "at": datetime(2026, 1, 2, tzinfo=UTC)}],
    ids=["no body", "empty object", "empty list", "empty string", "decimal and datetime"],
)
@pytest.mark.parametrize("status", [200, 201, 204])
def test_the_store_replays_every_status_and_body_as_first_sent(merchant, data, status):
    fingerprint = "f" * 64
    idempotency.claim(merchant_id=merchant.pk, key="k", operation="test", request={}, result={})
    remember_response(merchant, "k", fingerprint, Response(data, status, headers={"ETag": '"7"'}))
    replay = stored_response(merchant, "k", fingerprint)
    assert replay.status_code == status
    assert replay["ETag"] == '"7"'
    assert as_sent(replay.data) == as_sent(data)


def as_sent(data):
    """What a client parses from the rendered body (None: no body at all)."""
    return None if data is None else json.loads(JSONRenderer().render(data))


def test_a_replayed_stock_level_change_keeps_its_etag(api, product, location, stocked):
    path = f"/api/v1/stock/{product.sku}/{location.code}/"
    first = api.patch(path, {"safety_stock": 2}, format="json", headers={"Idempotency-Key": "s"})
    replay = api.patch(path, {"safety_stock": 2}, format="json", headers={"Idempotency-Key": "s"})
    assert first.status_code == replay.status_code == 200
    assert replay["ETag"] == first["ETag"] == f'"{first.json()["version"]}"'
    assert replay["Idempotent-Replayed"] == "true"


def test_a_transfer_retried_after_it_moved_on_replays_its_first_response(
    api, product, location, other_location, stocked
):
    body = {"source": location.code, "destination": other_location.code,
            "lines": [{"sku": product.sku, "quantity": 2}]}  # fmt: skip
    created = api.post_stock("/api/v1/transfers/", body, key="t-create")
    assert created.json()["status"] == "draft"
    ship = f"/api/v1/transfers/{created.json()['id']}/ship/"
    shipped = api.post_stock(ship, key="t-ship")
    assert shipped.json()["status"] == "in_transit"
    for path, key, first in (
        ("/api/v1/transfers/", "t-create", created),
        (ship, "t-ship", shipped),
    ):
        retry = api.post_stock(path, body if key == "t-create" else None, key=key)
        assert (retry.status_code, retry.json()) == (first.status_code, first.json())
        assert retry["Idempotent-Replayed"] == "true"
    assert StockLevel.objects.get(product=product, location=location).on_hand == 8


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
