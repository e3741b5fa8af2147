import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.alerts import services as alerts
from tests import factories

pytestmark = pytest.mark.django_db
URL = reverse("dashboard:index")


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="stream-config" type="application/json">') + 51
    return json.loads(html[start : html.index("</script>", start)])


def test_the_dashboard_requires_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_member_sees_the_stock_table_movements_and_alerts_of_a_location(
    client, merchant, owner, product, location, other_location
):
    level = factories.stock(product, location, 3, low_stock_threshold=5)
    factories.stock(product, other_location, 40)
    alerts.low_stock_evaluate(level_ids=[level.pk])
    client.force_login(owner)

    response = client.get(URL, {"merchant": merchant.pk, "location": location.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-level="{level.pk}" data-version="2"' in html
    assert 'data-field="available">3<' in html
    assert "dashboard/dashboard.js" in html
    config = config_of(response)
    assert (config["merchant"], config["location"], config["path"]) == (
        merchant.pk, location.pk, "/ws/stock/",
    )  # fmt: skip
    assert config["since"] > 0
    assert [m["reason"] for m in config["movements"]] == ["configure", "receive"]
    assert [a["sku"] for a in config["alerts"]] == [product.sku]


def test_other_merchants_are_not_found(client, owner, other_merchant):
    client.force_login(owner)
    assert client.get(URL, {"merchant": other_merchant.pk}).status_code == 404


def test_a_manager_only_gets_their_locations(client, merchant, location, other_location):
    manager = factories.user(merchant, role="manager")
    manager.memberships.get().locations.set([other_location])
    client.force_login(manager)
    response = client.get(URL, {"merchant": merchant.pk})
    assert response.context["location"] == other_location
    assert list(response.context["locations"]) == [other_location]
    assert client.get(URL, {"merchant": merchant.pk, "location": location.pk}).status_code == 404


def test_the_page_costs_the_same_queries_for_many_rows(client, merchant, owner, location):

    client.force_login(owner)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, {"merchant": merchant.pk}).status_code == 200
        return len(captured)

    factories.stock(factories.product(merchant), location, 5, low_stock_threshold=9)
    few = queries()
    for _ in range(8):
        level = factories.stock(factories.product(merchant), location, 5, low_stock_threshold=9)
        alerts.low_stock_evaluate(level_ids=[level.pk])
    assert queries() == few


def test_the_admin_links_to_the_dashboard(client, owner):
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    client.force_login(owner)
    assert f'href="{URL}"' in client.get(reverse("admin:index")).content.decode()
