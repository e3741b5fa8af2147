"""A product's category, brand, weight and dimensions: in the API (with filters), the admin
(filters, form) and the CSV export."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.catalog.models import Product
from tests import factories
from tests.admin_helpers import Role, logged_in, staff
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db

DETAILS = {
    "category": "Drinks",
    "brand": "Fizz",
    "weight_kg": "0.355",
    "length_cm": "6.6",
    "width_cm": "6.6",
    "height_cm": "12.2",
}


def test_product_details_round_trip_through_the_api(merchant):
    api = client_for(merchant)
    created = api.post(
        "/api/v1/products/", {"sku": "COLA-1", "name": "Cola", **DETAILS}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert {name: created.json()[name] for name in DETAILS} == DETAILS
    product = Product.objects.get(merchant=merchant, sku="COLA-1")
    assert (product.category, product.brand, product.weight_kg) == (
        "Drinks", "Fizz", Decimal("0.355"),
    )  # fmt: skip
    cleared = api.patch("/api/v1/products/COLA-1/", {"weight_kg": None}, format="json")
    assert cleared.json()["weight_kg"] is None
    assert cleared.json()["height_cm"] == "12.2"


@pytest.mark.parametrize(
    ("field", "value"),
    [("weight_kg", "0"), ("weight_kg", "-1"), ("length_cm", "0.05"), ("category", "x" * 101)],
)
def test_bad_product_details_are_400_naming_the_field(merchant, field, value):
    api = client_for(merchant)
    response = api.post(
        "/api/v1/products/", {"sku": "BAD-1", "name": "Bad", field: value}, format="json"
    )
    assert field in assert_problem(response, 400, "invalid_request")["fields"]
    assert not Product.objects.filter(sku="BAD-1").exists()


def test_products_filter_by_category_and_brand(merchant, other_merchant):
    factories.product(merchant, sku="A", category="Drinks", brand="Fizz")
    factories.product(merchant, sku="B", category="Drinks", brand="Pop")
    factories.product(merchant, sku="C", category="Snacks", brand="Fizz")
    factories.product(other_merchant, sku="D", category="Drinks", brand="Fizz")
    api = client_for(merchant)

    def skus(**params):
        return [p["sku"] for p in api.get("/api/v1/products/", params).json()["results"]]

    assert skus(category="Drinks") == ["A", "B"]
    assert skus(brand="Fizz") == ["A", "C"]
    assert skus(category="Drinks", brand="Fizz") == ["A"]


def test_admin_filters_and_exports_product_details(client, merchant, other_merchant):
    factories.product(merchant, sku="A", category="Drinks", brand="Fizz", weight_kg=Decimal("1.5"))
    factories.product(merchant, sku="B", category="Snacks", brand="Crunch")
    factories.product(other_merchant, sku="Z", category="Secret", brand="Hidden")
    logged_in(client, staff(merchant, Role.VIEWER))
    page = client.get(reverse("admin:catalog_product_changelist"))
    assert "Drinks" in page.content.decode()
    assert "Secret" not in page.content.decode()  # another merchant's category is no choice
    filtered = client.get(reverse("admin:catalog_product_changelist"), {"category": "Drinks"})
    assert [p.sku for p in filtered.context["cl"].result_list] == ["A"]
    response = client.get(reverse("admin:catalog_product_export"), {"brand": "Fizz"})
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    header = lines[0].split(",")
    assert header[-6:] == ["category", "brand", "weight_kg", "length_cm", "width_cm", "height_cm"]
    assert lines[1].split(",")[-6:] == ["Drinks", "Fizz", "1.500", "", "", ""]
    assert len(lines) == 2
