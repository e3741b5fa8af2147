import pytest
from django.urls import reverse

from apps.webhooks import signing
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests import factories
from tests.realstack import webhook_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(factories.user(None, is_staff=True, is_superuser=True))
    return client


def test_an_endpoint_is_created_tested_and_its_log_read_in_the_admin(
    admin_client, merchant, django_capture_on_commit_callbacks
):
    with webhook_receiver([200]) as receiver:
        response = admin_client.post(
            reverse("admin:webhooks_webhookendpoint_add"),
            {
                "merchant": merchant.pk, "name": "ERP", "url": receiver.url,
                "event_types": ["stock.changed", "stock.low"], "is_active": "on",
            },
        )  # fmt: skip
        assert response.status_code == 302, response.content.decode()[:2000]
        endpoint = WebhookEndpoint.objects.get()
        assert endpoint.event_types == ["stock.changed", "stock.low"]
        assert endpoint.secret.startswith("whsec_")

        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(
                reverse("admin:webhooks_webhookendpoint_changelist"),
                {"action": "send_test_event", "_selected_action": [endpoint.pk]},
            )
    (request,) = receiver.requests
    assert request.headers["Stockroom-Event"] == "webhook.ping"
    assert signing.verify(endpoint.secret, request.headers[signing.SIGNATURE_HEADER], request.body)

    log = admin_client.get(
        reverse("admin:webhooks_webhookdelivery_changelist"), {"endpoint__id__exact": endpoint.pk}
    )
    assert log.status_code == 200
    assert "webhook.ping" in log.content.decode()
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_failed_delivery_is_retried_from_the_admin(
    admin_client, merchant, settings, django_capture_on_commit_callbacks
):
    settings.STOCKROOM_WEBHOOK_MAX_ATTEMPTS = 1
    with webhook_receiver([500, 200]) as receiver:
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant, name="ERP", url=receiver.url, event_types=["stock.changed"]
        )
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(
                reverse("admin:webhooks_webhookendpoint_changelist"),
                {"action": "send_test_event", "_selected_action": [endpoint.pk]},
            )
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.response_code) == ("failed", 500)
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(
                reverse("admin:webhooks_webhookdelivery_changelist"),
                {"action": "retry_now", "_selected_action": [delivery.pk]},
            )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)


def test_staff_cannot_point_another_merchants_events_at_their_endpoint(
    client, merchant, other_merchant
):
    staff = factories.user(merchant, is_staff=True)
    client.force_login(staff)
    response = client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {
            "merchant": other_merchant.pk, "name": "Leak", "url": "https://attacker.example/",
            "event_types": ["stock.changed"], "is_active": "on",
        },
    )  # fmt: skip
    assert response.status_code == 200  # the form is shown again with an error
    assert "Select a valid choice" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
