"""Alerts over the API: list and filter, acknowledge, resolve, with the admin's lifecycle (a
low-stock alert resolves itself) and the merchant's scope."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.alerts import services as alerts
from apps.alerts.models import Alert
from apps.inventory.models import OutboxEvent
from apps.merchants.models import Membership
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db
API = "/api/v1"


def low_stock_alert(product, location) -> Alert:
    level = factories.stock(product, location, 2, low_stock_threshold=5)
    alerts.low_stock_evaluate(level_ids=[level.pk])
    return Alert.objects.get(stock_level=level)


def drift_alert(product, location) -> Alert:
    level = factories.stock(product, location, 1)
    return alerts.alert_raise(
        merchant_id=product.merchant_id, kind=Alert.Kind.LEDGER_DRIFT,
        subject=f"ledger_drift:level:{level.pk}", message="Ledger drift: on_hand 1 vs 2",
        stock_level=level, product_id=product.pk, location_id=location.pk,
    )  # fmt: skip


def webhook_alert(merchant) -> Alert:
    return alerts.alert_raise(
        merchant_id=merchant.pk, kind=Alert.Kind.WEBHOOK_DISABLED, subject="webhook_disabled:x",
        message="Webhook endpoint x was disabled",
    )  # fmt: skip


@pytest.fixture
def raised(merchant, product, location, other_location):
    """A low-stock alert at `location`, a ledger-drift one at `other_location` and a
    merchant-wide webhook one."""
    return {
        "low": low_stock_alert(product, location),
        "drift": drift_alert(factories.product(merchant), other_location),
        "webhook": webhook_alert(merchant),
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [alert["id"] for alert in response.json()["results"]]


def test_alerts_are_listed_newest_first_and_filtered(
    api, raised, product, location, other_location
):
    low, drift, webhook = raised["low"], raised["drift"], raised["webhook"]
    assert ids(api.get(f"{API}/alerts")) == [webhook.pk, drift.pk, low.pk]
    assert ids(api.get(f"{API}/alerts?kind=low_stock")) == [low.pk]
    assert ids(api.get(f"{API}/alerts?sku={product.sku}")) == [low.pk]
    assert ids(api.get(f"{API}/alerts?location={other_location.code}")) == [drift.pk]
    alerts.alert_resolve(alert=drift)
    assert ids(api.get(f"{API}/alerts?status=resolved")) == [drift.pk]
    assert ids(api.get(f"{API}/alerts?open=true")) == [webhook.pk, low.pk]
    assert ids(api.get(f"{API}/alerts?open=false")) == [drift.pk]
    one = api.get(f"{API}/alerts/{low.pk}").json()
    assert (one["kind"], one["status"], one["sku"], one["location"]) == (
        "low_stock", "triggered", product.sku, location.code,
    )  # fmt: skip
    assert (one["available"], one["threshold"], one["reorder_quantity"]) == (2, 5, 4)
    assert api.get(f"{API}/alerts/{webhook.pk}").json()["location"] is None
    assert "kind" in assert_problem(api.get(f"{API}/alerts?kind=nope"), 400,
                                    "invalid_request")["fields"]  # fmt: skip


def test_an_alert_is_acknowledged_once_and_announced(api, raised):
    low = raised["low"]
    before = OutboxEvent.objects.filter(topic="alert.acknowledged").count()
    response = api.post(f"{API}/alerts/{low.pk}/acknowledge")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["acknowledged_by"]) == ("acknowledged", None)  # an API key
    assert body["acknowledged_at"] is not None
    again = api.post(f"{API}/alerts/{low.pk}/acknowledge")
    assert again.json() == body  # no change
    assert OutboxEvent.objects.filter(topic="alert.acknowledged").count() == before + 1


def test_a_signed_in_user_is_recorded_as_the_one_who_acknowledged(merchant, raised):
    owner = factories.user(merchant, role=Membership.Role.OWNER)
    client = APIClient()
    client.force_login(owner)
    response = client.post(f"{API}/alerts/{raised['drift'].pk}/acknowledge/")
    assert response.json()["acknowledged_by"] == owner.username


def test_resolving_by_hand_follows_the_admins_lifecycle(api, raised):
    low, drift = raised["low"], raised["drift"]
    problem = assert_problem(api.post(f"{API}/alerts/{low.pk}/resolve"), 409, "invalid_state")
    assert "resolves itself when stock is replenished" in problem["detail"]
    assert Alert.objects.get(pk=low.pk).status == "triggered"

    resolved = api.post(f"{API}/alerts/{drift.pk}/resolve")
    assert resolved.status_code == 200, resolved.content
    assert (resolved.json()["status"], Alert.objects.get(pk=drift.pk).status) == (
        "resolved", "resolved",
    )  # fmt: skip
    assert api.post(f"{API}/alerts/{drift.pk}/resolve").json()["status"] == "resolved"
    problem = assert_problem(api.post(f"{API}/alerts/{drift.pk}/acknowledge"), 409,
                             "invalid_state")  # fmt: skip
    assert problem["state"] == "resolved"


def test_another_merchants_alerts_do_not_exist(api, other_merchant):
    theirs = webhook_alert(other_merchant)
    assert api.get(f"{API}/alerts").json()["count"] == 0
    assert_problem(api.get(f"{API}/alerts/{theirs.pk}"), 404, "not_found")
    for action in ("acknowledge", "resolve"):
        assert_problem(api.post(f"{API}/alerts/{theirs.pk}/{action}"), 404, "not_found")
    assert Alert.objects.get(pk=theirs.pk).status == "triggered"


def test_read_only_keys_and_viewers_cannot_act_on_alerts(read_only_api, merchant, raised):
    low = raised["low"]
    assert read_only_api.get(f"{API}/alerts").status_code == 200
    assert_problem(read_only_api.post(f"{API}/alerts/{low.pk}/acknowledge"), 403,
                   "permission_denied")  # fmt: skip
    viewer = APIClient()
    viewer.force_login(factories.user(merchant, role=Membership.Role.VIEWER))
    assert_problem(viewer.post(f"{API}/alerts/{low.pk}/acknowledge"), 403, "permission_denied")
    assert Alert.objects.get(pk=low.pk).status == "triggered"


def test_a_limited_manager_acts_on_the_alerts_of_their_locations_only(merchant, raised, location):
    manager = factories.user(merchant, role=Membership.Role.MANAGER)
    Membership.objects.get(user=manager, merchant=merchant).locations.set([location])
    client = APIClient()
    client.force_login(manager)
    assert client.post(f"{API}/alerts/{raised['low'].pk}/acknowledge").status_code == 200
    for other in (raised["drift"], raised["webhook"]):
        assert_problem(client.post(f"{API}/alerts/{other.pk}/resolve"), 403, "permission_denied")
        assert Alert.objects.get(pk=other.pk).status == "triggered"
