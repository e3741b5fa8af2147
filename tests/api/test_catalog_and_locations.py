"""products/ and locations/: create, list (search and filters), read, update, delete."""

from decimal import Decimal

import pytest

from apps.catalog.models import Product
from apps.catalog.services import product_update
from apps.core.errors import InvalidRequest
from apps.locations.models import Location
from apps.locations.services import location_update
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def test_product_lifecycle(api, merchant):
    created = api.post("/api/v1/products/", {"sku": "MUG-1", "name": "Mug", "price": "12.50",
                                            "barcode": "5012345678900", "unit": "each"},
                       format="json")  # fmt: skip
    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("sku", "name", "price", "active")} == {
        "sku": "MUG-1", "name": "Mug", "price": "12.50", "active": True,
    }  # fmt: skip
    assert api.get("/api/v1/products/MUG-1/").json()["barcode"] == "5012345678900"
    patched = api.patch("/api/v1/products/MUG-1/", {"price": "13.00", "active": False},
                        format="json")  # fmt: skip
    assert patched.json()["price"] == "13.00"
    assert patched.json()["active"] is False
    product = Product.objects.get(merchant=merchant, sku="MUG-1")
    assert product.price == Decimal("13.00")
    assert not product.is_active
    put = api.put("/api/v1/products/MUG-1/", {"sku": "MUG-1", "name": "Big mug"}, format="json")
    assert put.status_code == 200
    assert put.json()["name"] == "Big mug"
    assert api.delete("/api/v1/products/MUG-1/").status_code == 204
    assert not Product.objects.filter(sku="MUG-1").exists()
    assert_problem(api.get("/api/v1/products/MUG-1/"), 404, "not_found")


def test_product_validation_names_the_field(api, product):
    cases = [
        ({"sku": product.sku, "name": "Dup"}, "sku"),
        ({"sku": "X", "name": "X", "price": "-1"}, "price"),
        ({"sku": "X", "name": "X", "price": "1.234"}, "price"),
        ({"sku": "X", "name": "X", "unit": "bucket"}, "unit"),
        ({"sku": " ", "name": "Blank SKU"}, "sku"),  # left out, it is generated
        ({"sku": "X" * 65, "name": "X"}, "sku"),
    ]
    for body, field in cases:
        problem = assert_problem(api.post("/api/v1/products/", body, format="json"), 400,
                                 "invalid_request")  # fmt: skip
        assert field in problem["fields"], (body, problem)
    renamed = api.patch(f"/api/v1/products/{product.sku}/", {"sku": "OTHER"}, format="json")
    assert "sku" in assert_problem(renamed, 400, "invalid_request")["fields"]


def test_product_list_search_and_active_filter(api, merchant):
    factories.product(merchant, sku="TEE-RED", name="Red tee")
    factories.product(merchant, sku="TEE-BLU", name="Blue tee", is_active=False)
    factories.product(merchant, sku="CAP", name="Cap", barcode="999")

    def skus(query):
        return [p["sku"] for p in api.get(f"/api/v1/products/{query}").json()["results"]]

    assert skus("?search=tee") == ["TEE-BLU", "TEE-RED"]
    assert skus("?search=999") == ["CAP"]
    assert skus("?active=false") == ["TEE-BLU"]
    assert skus("?active=true&search=tee") == ["TEE-RED"]
    assert_problem(api.get("/api/v1/products/?active=maybe"), 400, "invalid_request")
    page = api.get("/api/v1/products/?page_size=2").json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]


def test_product_with_stock_or_history_cannot_be_deleted(api, product, location):
    stock = factories.stock(product, location, 3)
    problem = assert_problem(api.delete(f"/api/v1/products/{product.sku}/"), 409, "invalid_state")
    assert "deactivate" in problem["detail"]
    api.post_stock("/api/v1/stock/counts/",
                   {"sku": product.sku, "location": location.code, "quantity": 0})  # fmt: skip
    stock.refresh_from_db()
    assert stock.on_hand == 0
    problem = assert_problem(api.delete(f"/api/v1/products/{product.sku}/"), 409, "invalid_state")
    assert problem["state"] == "has_history"
    assert Product.objects.filter(pk=product.pk).exists()


def test_product_with_active_reservation_cannot_be_deleted(api, product, location):
    factories.stock(product, location, 3)
    api.post_stock("/api/v1/reservations/", {"lines": [{"sku": product.sku, "quantity": 1}]})
    assert_problem(api.delete(f"/api/v1/products/{product.sku}/"), 409, "invalid_state")


def test_product_sku_with_a_slash_is_addressable(api):
    api.post("/api/v1/products/", {"sku": "BOX/10", "name": "Box of ten"}, format="json")
    assert api.get("/api/v1/products/BOX/10/").json()["name"] == "Box of ten"


def test_location_lifecycle(api, merchant):
    body = {"code": "dark-1", "name": "Dark store", "kind": "dark_store", "address": "N1",
            "latitude": "51.538000", "longitude": "-0.103000", "priority": 5}  # fmt: skip
    created = api.post("/api/v1/locations/", body, format="json")
    assert created.status_code == 201
    assert {k: created.json()[k] for k in body} == {**body, "latitude": "51.538000"}
    assert created.json()["status"] == "active"
    patched = api.patch("/api/v1/locations/dark-1/", {"status": "maintenance"}, format="json")
    assert patched.json()["status"] == "maintenance"
    assert Location.objects.get(merchant=merchant, code="dark-1").status == "maintenance"
    assert api.delete("/api/v1/locations/dark-1/").status_code == 204
    assert_problem(api.get("/api/v1/locations/dark-1/"), 404, "not_found")


def test_location_validation_and_filters(api, merchant, location):
    for body, field in [
        ({"code": location.code, "name": "Dup"}, "code"),
        ({"code": "a b", "name": "X"}, "code"),
        ({"code": "x", "name": "X", "latitude": "91"}, "latitude"),
        ({"code": "x", "name": "X", "kind": "moon_base"}, "kind"),
        ({"code": "x", "name": "X", "priority": -1}, "priority"),
    ]:
        problem = assert_problem(api.post("/api/v1/locations/", body, format="json"), 400,
                                 "invalid_request")  # fmt: skip
        assert field in problem["fields"], (body, problem)
    factories.location(merchant, code="shop-1", kind="retail_store", status="inactive")
    codes = [
        loc["code"] for loc in api.get("/api/v1/locations/?kind=retail_store").json()["results"]
    ]
    assert codes == ["shop-1"]
    active = api.get("/api/v1/locations/?status=active").json()["results"]
    assert [loc["code"] for loc in active] == [location.code]


def test_location_with_stock_cannot_be_deleted(api, product, location):
    factories.stock(product, location, 2)
    problem = assert_problem(api.delete(f"/api/v1/locations/{location.code}/"), 409,
                             "invalid_state")  # fmt: skip
    assert "inactive" in problem["detail"]


@pytest.mark.parametrize("path", ["/api/v1/products/", "/api/v1/locations/"])
def test_lists_run_a_fixed_number_of_queries(api, merchant, path, django_assert_num_queries):
    for _ in range(3):
        factories.product(merchant)
        factories.location(merchant)
    api.get(path)  # warm the key's last-used stamp
    with django_assert_num_queries(3):  # the API key, the count, the page
        assert len(api.get(path).json()["results"]) == 3
    for _ in range(7):
        factories.product(merchant)
        factories.location(merchant)
    with django_assert_num_queries(3):
        assert len(api.get(path).json()["results"]) == 10


def test_renaming_to_a_taken_code_or_sku_is_a_field_error(api, merchant, location):
    other = factories.location(merchant, code="spare")
    renamed = api.patch(f"/api/v1/locations/{other.code}/", {"code": location.code}, format="json")
    assert "code" in assert_problem(renamed, 400, "invalid_request")["fields"]
    # The services refuse it themselves, whatever the interface checked first.
    with pytest.raises(InvalidRequest) as refused:
        location_update(location=other, code=location.code)
    assert refused.value.field == "code"
    first, second = factories.product(merchant), factories.product(merchant)
    with pytest.raises(InvalidRequest) as refused:
        product_update(product=second, sku=first.sku)
    assert refused.value.field == "sku"
    assert Location.objects.get(pk=other.pk).code == "spare"
    assert Product.objects.get(pk=second.pk).sku != first.sku
