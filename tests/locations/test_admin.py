import pytest
from django.urls import reverse

from tests import factories
from tests.admin_helpers import Role, logged_in, staff

pytestmark = pytest.mark.django_db


def test_location_page_shows_its_stock_and_recent_movements(client, merchant, product, location):
    factories.stock(product, location, 6)
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    page = client.get(reverse("admin:locations_location_change", args=[location.pk]))
    assert page.status_code == 200
    panels = dict(page.context["stockroom_panels"])
    assert "1 SKUs, 6 on hand, 0 reserved, 0 in transit" in panels["Stock"]
    assert product.sku in panels["Recent movements"]


def test_manager_cannot_edit_a_location(client, merchant, location):
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    url = reverse("admin:locations_location_change", args=[location.pk])
    assert client.post(url, {"name": "Renamed"}).status_code == 403
