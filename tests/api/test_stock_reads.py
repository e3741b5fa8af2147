"""stock/ (filters), stock/{sku}/{location}/ (ETag, settings) and availability/{sku}/."""

import pytest

from apps.inventory.models import StockLevel
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db

LEVEL_FIELDS = {"sku", "location", "on_hand", "reserved", "available", "safety_stock", "damaged",
                "in_transit", "low_stock_threshold", "reorder_point", "version", "updated_at"}  # fmt: skip


def test_stock_list_filters(api, merchant, product, location, other_location):
    second = factories.product(merchant)
    factories.stock(product, location, 10, low_stock_threshold=3)
    factories.stock(product, other_location, 2, low_stock_threshold=5)
    factories.stock(second, location, 7)

    def pairs(query):
        rows = api.get(f"/api/v1/stock/{query}").json()["results"]
        return [(row["sku"], row["location"]) for row in rows]

    assert len(pairs("")) == 3
    assert pairs(f"?sku={product.sku}") == [(product.sku, location.code),
                                            (product.sku, other_location.code)]  # fmt: skip
    assert pairs(f"?location={other_location.code}") == [(product.sku, other_location.code)]
    assert pairs("?low_stock=true") == [(product.sku, other_location.code)]
    assert len(pairs("?low_stock=false")) == 2
    row = api.get(f"/api/v1/stock/?sku={second.sku}").json()["results"][0]
    assert set(row) >= LEVEL_FIELDS
    assert (row["on_hand"], row["available"]) == (7, 7)


def test_stock_list_runs_a_fixed_number_of_queries(api, merchant, location,
                                                   django_assert_num_queries):  # fmt: skip
    for _ in range(3):
        factories.stock(factories.product(merchant), location, 1)
    api.get("/api/v1/stock/")
    with django_assert_num_queries(3):
        assert len(api.get("/api/v1/stock/").json()["results"]) == 3
    for _ in range(6):
        factories.stock(factories.product(merchant), location, 1)
    with django_assert_num_queries(3):
        assert len(api.get("/api/v1/stock/").json()["results"]) == 9


def test_stock_detail_has_the_version_as_etag(api, product, location, stocked):
    response = api.get(f"/api/v1/stock/{product.sku}/{location.code}/")
    assert response["ETag"] == f'"{stocked.version}"'
    assert response.json()["version"] == stocked.version
    assert response.json()["on_hand"] == 10
    cached = api.get(f"/api/v1/stock/{product.sku}/{location.code}/",
                     headers={"If-None-Match": response["ETag"]})  # fmt: skip
    assert cached.status_code == 304


def test_stock_detail_of_an_unstocked_pair_is_empty_at_version_0(api, product, location):
    response = api.get(f"/api/v1/stock/{product.sku}/{location.code}/")
    assert response.status_code == 200
    assert response["ETag"] == '"0"'
    assert (response.json()["on_hand"], response.json()["version"]) == (0, 0)
    assert_problem(api.get(f"/api/v1/stock/NOPE/{location.code}/"), 404, "not_found")
    assert_problem(api.get(f"/api/v1/stock/{product.sku}/nowhere/"), 404, "not_found")


def test_configure_level_with_if_match(api, product, location, stocked):
    url = f"/api/v1/stock/{product.sku}/{location.code}/"
    etag = api.get(url)["ETag"]
    response = api.patch(url, {"safety_stock": 2, "low_stock_threshold": 4}, format="json",
                         headers={"If-Match": etag, "Idempotency-Key": "cfg-1"})  # fmt: skip
    assert response.status_code == 200
    assert response.json()["available"] == 8
    assert response["ETag"] == f'"{stocked.version + 1}"'
    stale = api.patch(url, {"safety_stock": 3}, format="json",
                      headers={"If-Match": etag, "Idempotency-Key": "cfg-2"})  # fmt: skip
    assert assert_problem(stale, 412, "version_conflict")["current"]["safety_stock"] == 2
    empty = api.patch(url, {}, format="json", headers={"Idempotency-Key": "cfg-3"})
    assert_problem(empty, 400, "invalid_request")
    level = StockLevel.objects.get(pk=stocked.pk)
    assert (level.safety_stock, level.low_stock_threshold) == (2, 4)


def test_availability_in_total_and_per_location(api, merchant, product, location,
                                                other_location):  # fmt: skip
    factories.stock(product, location, 10, safety_stock=2)
    factories.stock(product, other_location, 5)
    closed = factories.location(merchant, status="maintenance", priority=1)
    factories.stock(product, closed, 50)
    api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": other_location.code, "quantity": 1}]})  # fmt: skip
    data = api.get(f"/api/v1/availability/{product.sku}/?quantity=12").json()
    assert data["available"] == 8 + 4
    assert data["can_serve"] is True
    assert data["can_serve_from_one_location"] is False
    by_code = {row["location"]: row for row in data["locations"]}
    assert by_code[location.code]["available"] == 8
    assert by_code[other_location.code]["available"] == 4
    assert by_code[closed.code]["available"] == 0
    assert by_code[closed.code]["takes_reservations"] is False
    assert api.get(f"/api/v1/availability/{product.sku}/?quantity=13").json()["can_serve"] is False


def test_availability_is_one_query_and_validates_quantity(api, product, location, stocked,
                                                          django_assert_num_queries):  # fmt: skip
    api.get(f"/api/v1/availability/{product.sku}/")
    with django_assert_num_queries(2):  # the API key, then the availability itself
        assert api.get(f"/api/v1/availability/{product.sku}/").json()["available"] == 10
    assert_problem(api.get(f"/api/v1/availability/{product.sku}/?quantity=0"), 400,
                   "invalid_request")  # fmt: skip
    assert_problem(api.get("/api/v1/availability/NOPE/"), 404, "not_found")


def test_inactive_product_serves_nothing_and_unstocked_product_is_zero(api, merchant, location):
    inactive = factories.product(merchant, is_active=False)
    factories.stock(inactive, location, 5)
    data = api.get(f"/api/v1/availability/{inactive.sku}/").json()
    assert (data["active"], data["available"], data["can_serve"]) == (False, 0, False)
    fresh = factories.product(merchant)
    data = api.get(f"/api/v1/availability/{fresh.sku}/").json()
    assert (data["available"], data["locations"]) == (0, [])
