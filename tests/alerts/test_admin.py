import pytest
from django.urls import reverse

from apps.alerts import services as alerts
from apps.alerts.models import Alert
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = factories.user(None, is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_alerts_are_listed_and_acknowledged_from_the_admin(admin_client, product, location):
    level = factories.stock(product, location, 1, low_stock_threshold=3)
    alerts.low_stock_evaluate(level_ids=[level.pk])
    alert = Alert.objects.get()
    url = reverse("admin:alerts_alert_changelist")

    page = admin_client.get(url)
    assert page.status_code == 200
    assert product.sku in page.content.decode()
    assert reverse("dashboard:index") in page.content.decode()

    response = admin_client.post(
        url, {"action": "acknowledge", "_selected_action": [alert.pk]}, follow=True
    )
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.status == "acknowledged"


def test_low_stock_alerts_are_not_resolved_by_hand(admin_client, product, location):
    level = factories.stock(product, location, 1, low_stock_threshold=3)
    alerts.low_stock_evaluate(level_ids=[level.pk])
    alert = Alert.objects.get()
    admin_client.post(
        reverse("admin:alerts_alert_changelist"),
        {"action": "resolve", "_selected_action": [alert.pk]},
    )
    alert.refresh_from_db()
    assert alert.status == "triggered"


def test_staff_only_see_the_alerts_of_their_merchants(client, merchant, product, location):
    level = factories.stock(product, location, 1, low_stock_threshold=3)
    alerts.low_stock_evaluate(level_ids=[level.pk])
    other = factories.merchant()
    other_level = factories.stock(
        factories.product(other), factories.location(other), 1, low_stock_threshold=3
    )
    alerts.low_stock_evaluate(level_ids=[other_level.pk])
    staff = factories.user(merchant, is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("admin:alerts_alert_changelist"))
    assert page.status_code == 200
    body = page.content.decode()
    assert product.sku in body
    assert other_level.product.sku not in body
    assert other.name not in body  # not even in the filters
    assert other_level.location.code not in body


def test_a_limited_manager_sees_their_locations_alerts_and_a_viewer_cannot_acknowledge(
    client, merchant, location, other_location
):
    here = factories.stock(factories.product(merchant), location, 1, low_stock_threshold=3)
    there = factories.stock(factories.product(merchant), other_location, 1, low_stock_threshold=3)
    alerts.low_stock_evaluate(level_ids=[here.pk, there.pk])
    url = reverse("admin:alerts_alert_changelist")

    manager = factories.user(merchant, role="manager", is_staff=True)
    manager.memberships.get().locations.set([location])
    client.force_login(manager)
    body = client.get(url).content.decode()
    assert here.product.sku in body
    assert there.product.sku not in body

    viewer = factories.user(merchant, role="viewer", is_staff=True)
    client.force_login(viewer)
    page = client.get(url)
    assert there.product.sku in page.content.decode()
    assert page.context["action_form"] is None  # a viewer is offered no action
    alert = Alert.objects.get(stock_level=there)
    client.post(url, {"action": "acknowledge", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.status == "triggered"
