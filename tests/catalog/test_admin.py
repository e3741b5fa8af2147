import pytest
from django.urls import reverse

from apps.catalog.models import Product
from tests import factories
from tests.admin_helpers import Role, logged_in, staff

pytestmark = pytest.mark.django_db


def test_product_page_shows_stock_and_recent_movements_of_visible_locations(
    client, merchant, product, location, other_location
):
    factories.stock(product, location, 5)
    factories.stock(product, other_location, 9)
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    page = client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    panels = dict(page.context["stockroom_panels"])
    assert f">{location.code}<" in panels["Stock by location"]
    assert other_location.code not in panels["Stock by location"]
    assert "Receipt" in panels["Recent movements"]
    assert "+5" in panels["Recent movements"]
    assert "+9" not in panels["Recent movements"]


def test_owner_adds_a_product_only_to_their_merchant(client, merchant, other_merchant):
    logged_in(client, staff(merchant, Role.OWNER))
    add = reverse("admin:catalog_product_add")
    data = {"sku": "NEW-1", "name": "New", "description": "", "price": "1.00", "unit": "each",
            "barcode": "", "is_active": "on"}  # fmt: skip
    refused = client.post(add, {**data, "merchant": other_merchant.pk})
    assert refused.status_code == 200
    assert not Product.objects.filter(sku="NEW-1").exists()
    assert client.post(add, {**data, "merchant": merchant.pk}).status_code == 302
    assert Product.objects.get(sku="NEW-1").merchant == merchant


def test_product_csv_export_follows_the_list_filters(client, merchant):
    factories.product(merchant, sku="A-1", is_active=True)
    factories.product(merchant, sku="B-1", is_active=False)
    logged_in(client, staff(merchant, Role.VIEWER))
    response = client.get(reverse("admin:catalog_product_export"), {"is_active__exact": "0"})
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0].startswith("merchant,sku,name,description,price,unit,barcode,is_active")
    assert [line.split(",")[1] for line in lines[1:]] == ["B-1"]


def test_products_filter_by_low_stock_at_visible_locations(
    client, merchant, location, other_location
):
    low_here, low_elsewhere, fine = (factories.product(merchant) for _ in range(3))
    factories.stock(low_here, location, 1, low_stock_threshold=5)
    factories.stock(low_elsewhere, other_location, 1, low_stock_threshold=5)
    factories.stock(fine, location, 50, low_stock_threshold=5)
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    page = client.get(reverse("admin:catalog_product_changelist"), {"stock": "low"})
    assert list(page.context["cl"].result_list) == [low_here]
