import threading
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from apps.alerts import services as alerts
from apps.alerts.models import Alert
from apps.events.services import outbox_publish_pending
from apps.inventory import services
from apps.webhooks import signing
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import (
    Policy,
    backoff_delay,
    webhook_deliver_attempt,
    webhook_endpoint_enable,
    webhook_retry_due,
)
from tests import factories
from tests.realstack import webhook_receiver


@pytest.fixture
def fast_retries(settings):
    settings.STOCKROOM_WEBHOOK_BACKOFF_SECONDS = 0
    settings.STOCKROOM_WEBHOOK_TIMEOUT_SECONDS = 2
    return settings


def endpoint_for(merchant, url, events=("stock.changed",)) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        merchant=merchant, name="Partner ERP", url=url, event_types=list(events)
    )


def receive(product, location, quantity):
    services.stock_receive(
        merchant=product.merchant,
        lines=[services.StockLine(product=product, location=location, quantity=quantity)],
        actor=None,
        idempotency_key=factories.key(),
    )


@pytest.mark.django_db
def test_a_signed_delivery_is_retried_after_a_500_and_then_succeeds(
    fast_retries, merchant, product, location, django_capture_on_commit_callbacks
):
    with webhook_receiver([500, 200]) as receiver:
        endpoint = endpoint_for(merchant, receiver.url)
        receive(product, location, 12)
        assert receiver.requests == []  # nothing is sent from inside the stock transaction

        with django_capture_on_commit_callbacks(execute=True):
            outbox_publish_pending()
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)

        assert webhook_retry_due() == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)
        assert delivery.delivered_at is not None
        assert webhook_retry_due() == 0

    assert len(receiver.requests) == 2
    for request in receiver.requests:
        header = request.headers[signing.SIGNATURE_HEADER]
        assert signing.verify(endpoint.secret, header, request.body)
        assert not signing.verify("whsec_wrong", header, request.body)
        assert request.headers["Stockroom-Event"] == "stock.changed"
    first, second = receiver.requests
    assert first.headers["Stockroom-Event-Id"] == second.headers["Stockroom-Event-Id"]
    assert (first.headers["Stockroom-Attempt"], second.headers["Stockroom-Attempt"]) == ("1", "2")
    assert second.json["data"]["on_hand"] == 12
    assert second.json["data"]["sku"] == product.sku
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


@pytest.mark.django_db
def test_only_subscribed_active_endpoints_of_the_merchant_get_events(
    merchant, other_merchant, product, location, django_capture_on_commit_callbacks
):
    with webhook_receiver([200]) as receiver:
        subscribed = endpoint_for(merchant, receiver.url)
        endpoint_for(merchant, receiver.url, events=["transfer.received"])
        inactive = endpoint_for(merchant, receiver.url)
        inactive.is_active = False
        inactive.save()
        endpoint_for(other_merchant, receiver.url)
        receive(product, location, 3)
        with django_capture_on_commit_callbacks(execute=True):
            outbox_publish_pending()
    assert list(WebhookDelivery.objects.values_list("endpoint_id", "status")) == [
        (subscribed.pk, "succeeded")
    ]
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_repeated_failures_disable_the_endpoint_and_raise_an_alert(
    fast_retries, merchant, product, location, django_capture_on_commit_callbacks
):
    fast_retries.STOCKROOM_WEBHOOK_DISABLE_AFTER_FAILURES = 3
    with webhook_receiver([503]) as receiver:
        endpoint = endpoint_for(merchant, receiver.url)
        receive(product, location, 1)
        receive(product, location, 1)
        with django_capture_on_commit_callbacks(execute=True):
            outbox_publish_pending()  # two deliveries, two failures (after commit)
        assert webhook_retry_due() == 2  # the third failure disables the endpoint
        assert webhook_retry_due() == 0  # a disabled endpoint gets nothing
        assert len(receiver.requests) == 3

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.consecutive_failures == 3
    assert "3 consecutive failed deliveries" in endpoint.disabled_reason
    alert = Alert.objects.get(kind="webhook_disabled")
    assert alert.status == "triggered"
    assert endpoint.url in alert.message
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}

    assert webhook_endpoint_enable(endpoint=endpoint)
    alert.refresh_from_db()
    assert alert.status == "resolved"


@pytest.mark.django_db
def test_a_delivery_gives_up_after_the_last_attempt(
    fast_retries, merchant, product, location, django_capture_on_commit_callbacks
):
    fast_retries.STOCKROOM_WEBHOOK_MAX_ATTEMPTS = 2
    with webhook_receiver([500]) as receiver:
        endpoint_for(merchant, receiver.url)
        receive(product, location, 1)
        with django_capture_on_commit_callbacks(execute=True):
            outbox_publish_pending()
        assert webhook_retry_due() == 1
        assert webhook_retry_due() == 0
        assert len(receiver.requests) == 2
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.last_error == "HTTP 500"


@pytest.mark.django_db
def test_an_unreachable_endpoint_is_a_failed_attempt_with_backoff(
    settings, merchant, product, location, django_capture_on_commit_callbacks
):
    settings.STOCKROOM_WEBHOOK_BACKOFF_SECONDS = 60
    endpoint_for(merchant, "http://127.0.0.1:9/closed-port")
    receive(product, location, 1)
    with django_capture_on_commit_callbacks(execute=True):
        outbox_publish_pending()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.response_code is None
    assert "Error" in delivery.last_error
    assert 60 <= (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds() < 65
    assert webhook_retry_due() == 0  # not due yet
    assert cache.get("metrics:webhook_failures") == 1  # exported at /metrics


@pytest.mark.django_db
def test_low_stock_alerts_reach_partners_as_stock_low(
    merchant, product, location, django_capture_on_commit_callbacks
):
    with webhook_receiver([200]) as receiver:
        endpoint = endpoint_for(merchant, receiver.url, events=["stock.low", "stock.replenished"])
        level = factories.stock(product, location, 2, low_stock_threshold=5)
        with django_capture_on_commit_callbacks(execute=True):
            alerts.low_stock_evaluate(level_ids=[level.pk])
            outbox_publish_pending()  # alerts reach partners through the outbox
        with django_capture_on_commit_callbacks(execute=True):
            receive(product, location, 10)
            alerts.low_stock_evaluate(level_ids=[level.pk])
            outbox_publish_pending()
    assert [r.headers["Stockroom-Event"] for r in receiver.requests] == [
        "stock.low",
        "stock.replenished",
    ]
    low = receiver.requests[0]
    assert signing.verify(endpoint.secret, low.headers[signing.SIGNATURE_HEADER], low.body)
    assert low.json["data"]["sku"] == product.sku
    assert low.json["data"]["reorder_quantity"] == 4


@pytest.mark.django_db
def test_reservation_and_transfer_events_reach_subscribed_partners(
    merchant, product, location, other_location, django_capture_on_commit_callbacks
):
    factories.stock(product, location, 10)
    reservation = services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, location=location, quantity=2)],
        actor=None, idempotency_key=factories.key(), ttl_seconds=60, order_ref="WEB-9",
    )  # fmt: skip
    services.reservation_expire(
        reservation_id=reservation.pk, now=timezone.now() + timedelta(seconds=61)
    )
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(product=product, quantity=3)], actor=None,
        idempotency_key=factories.key(), reference="TR-7",
    )  # fmt: skip
    for step in (services.transfer_ship, services.transfer_receive):
        step(
            merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=factories.key()
        )
    with webhook_receiver([200]) as receiver:
        endpoint_for(merchant, receiver.url, events=["reservation.expired", "transfer.received"])
        with django_capture_on_commit_callbacks(execute=True):
            outbox_publish_pending()
    bodies = {r.headers["Stockroom-Event"]: r.json for r in receiver.requests}
    assert sorted(bodies) == ["reservation.expired", "transfer.received"]
    assert bodies["reservation.expired"]["data"] == {
        "reservation_id": str(reservation.pk), "order_ref": "WEB-9",
    }  # fmt: skip
    assert bodies["transfer.received"]["data"]["reference"] == "TR-7"


@pytest.mark.django_db(transaction=True)
def test_two_workers_attempting_one_delivery_send_it_once(merchant, product, location):
    with webhook_receiver([200]) as receiver:
        endpoint = endpoint_for(merchant, receiver.url)
        receive(product, location, 1)
        outbox_publish_pending()  # creates the delivery and, after commit, sends it once
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert (delivery.status, len(receiver.requests)) == ("succeeded", 1)
        # Due again (as after a lost acknowledgement): four workers race for the attempt.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status="pending", next_attempt_at=timezone.now()
        )
        barrier = threading.Barrier(4)
        results = []

        def attempt():
            try:
                barrier.wait()
                results.append(webhook_deliver_attempt(delivery_id=delivery.pk))
            finally:
                connection.close()

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(results, key=str) == [None, None, None, "succeeded"]
    assert len(receiver.requests) == 2


def test_signature_rejects_tampering_and_old_timestamps():
    body = b'{"type":"stock.changed"}'
    header = signing.signature_header("whsec_s", body, timestamp=1_700_000_000)
    assert signing.verify("whsec_s", header, body, now=1_700_000_100)
    assert not signing.verify("whsec_s", header, body + b" ", now=1_700_000_100)
    assert not signing.verify("whsec_s", header, body, now=1_700_000_000 + 301)
    assert not signing.verify("whsec_s", "garbage", body)
    assert signing.verify(
        "whsec_s", signing.signature_header("whsec_s", body), body, now=time.time()
    )


def test_backoff_doubles_up_to_its_ceiling():
    policy = Policy(
        timeout=5, max_attempts=12, backoff_base=15, backoff_max=3600, disable_after=25, lease=50
    )
    delays = [backoff_delay(attempts, policy).total_seconds() for attempts in range(1, 10)]
    assert delays == [15, 30, 60, 120, 240, 480, 960, 1920, 3600]
