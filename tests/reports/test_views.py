from decimal import Decimal

import pytest
from django.urls import reverse

from tests import factories
from tests.admin_helpers import Role, logged_in, staff

pytestmark = pytest.mark.django_db


def csv_lines(response) -> list[str]:
    return b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()


@pytest.fixture
def stocked(merchant, location):
    product = factories.product(merchant, price=Decimal("4.00"))
    factories.stock(product, location, 3, low_stock_threshold=5)
    return product


def test_overview_page_shows_every_report(client, merchant, stocked, location):
    logged_in(client, staff(merchant, Role.VIEWER))
    response = client.get(reverse("reports:overview"))
    assert response.status_code == 200
    body = response.content.decode()
    for title in ("Stock by location", "Movements per day", "Low stock", "Out of stock",
                  "Top movers", "Reservations expiring", "Transfers in transit"):  # fmt: skip
        assert title in body
    assert "<svg" in body
    assert stocked.sku in body
    assert response.context["by_location_totals"]["value"] == Decimal("12.00")


def test_index_links_to_the_reports(client, merchant, stocked):
    logged_in(client, staff(merchant, Role.VIEWER))
    body = client.get(reverse("admin:index")).content.decode()
    assert reverse("reports:overview") in body
    assert reverse("reports:as_of") in body


def test_each_report_exports_csv(client, merchant, stocked, location):
    logged_in(client, staff(merchant, Role.VIEWER))
    url = reverse("reports:overview")
    lines = csv_lines(client.get(url, {"export": "low_stock"}))
    assert lines[0] == "SKU,Product,Location,On hand,Reserved,Safety stock,Available,Threshold"
    assert lines[1].startswith(f"{stocked.sku},{stocked.name},{location.code},3,0,0,3,5")
    by_location = csv_lines(client.get(url, {"export": "by_location", "location": location.pk}))
    assert by_location[1].endswith(",1,0,12.00")
    for name in ("out_of_stock", "movements", "top_movers", "expiring", "in_transit"):
        assert client.get(url, {"export": name}).status_code == 200
    assert client.get(url, {"export": "nope"}).status_code == 404


def test_as_of_page_and_csv(client, merchant, stocked, location):
    from django.utils import timezone

    logged_in(client, staff(merchant, Role.VIEWER))
    today = timezone.now().date().isoformat()
    response = client.get(reverse("reports:as_of"), {"date": today})
    assert response.status_code == 200
    assert response.context["source"] == "ledger"
    assert response.context["totals"]["on_hand"] == 3
    lines = csv_lines(client.get(reverse("reports:as_of"), {"date": today, "export": "1"}))
    assert lines[1].split(",")[4] == "3"
    future = client.get(reverse("reports:as_of"), {"date": "2999-01-01"})
    assert "Pick today or a past day." in future.content.decode()


def test_reports_only_cover_what_the_user_may_see(
    client, merchant, stocked, location, other_merchant
):
    outsider = staff(other_merchant, Role.OWNER)
    logged_in(client, outsider)
    response = client.get(reverse("reports:overview"))
    assert response.context["by_location"] == []
    assert stocked.sku not in response.content.decode()
    # Filtering by a merchant one cannot see is an invalid choice, not a peek.
    peek = client.get(reverse("reports:overview"), {"merchant": merchant.pk})
    assert peek.context["by_location"] == []
