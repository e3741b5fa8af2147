import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import mail
from django.db import connection
from django.db.models import F

from apps.alerts import services as alerts
from apps.alerts.models import Alert
from apps.core.errors import InvalidState
from apps.events.groups import location_group
from apps.events.services import outbox_publish_pending
from apps.inventory import services
from apps.inventory.models import StockLevel
from apps.observability.models import LedgerVerification
from tests import factories

CALLS: list[tuple[int, str]] = []


def recording_listener(alert, event):
    CALLS.append((alert.pk, event))


def failing_listener(alert, event):
    raise ConnectionError("listener backend is down")


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def ship(product, location, quantity):
    services.stock_ship(
        merchant=product.merchant,
        lines=[services.StockLine(product=product, location=location, quantity=quantity)],
        actor=None,
        idempotency_key=factories.key(),
    )


def receive(product, location, quantity):
    services.stock_receive(
        merchant=product.merchant,
        lines=[services.StockLine(product=product, location=location, quantity=quantity)],
        actor=None,
        idempotency_key=factories.key(),
    )


def open_alerts(level):
    return Alert.objects.filter(stock_level=level, status__in=Alert.OPEN_STATUSES)


@pytest.mark.django_db
def test_an_alert_is_raised_once_per_episode_and_resolved_on_replenishment(
    product, location, django_capture_on_commit_callbacks
):
    level = factories.stock(product, location, 10, low_stock_threshold=5, max_level=40)
    with django_capture_on_commit_callbacks(execute=True):
        outbox_publish_pending()
    assert not Alert.objects.exists()

    ship(product, location, 6)  # available 4 <= 5
    ship(product, location, 1)  # still the same episode
    with django_capture_on_commit_callbacks(execute=True):
        outbox_publish_pending()
        alerts.low_stock_scan()
    (alert,) = Alert.objects.all()
    assert (alert.kind, alert.status, alert.available, alert.threshold) == (
        "low_stock",
        "triggered",
        3,
        5,
    )
    assert alert.reorder_quantity == 37  # back to max_level 40 from 3 on hand
    assert alert.product_id == product.pk
    assert alert.location_id == location.pk

    receive(product, location, 2)  # available 5: still at the threshold
    with django_capture_on_commit_callbacks(execute=True):
        outbox_publish_pending()
    assert open_alerts(level).count() == 1
    alert.refresh_from_db()
    assert (alert.available, alert.reorder_quantity) == (5, 35)

    receive(product, location, 1)  # available 6 > 5: replenished
    with django_capture_on_commit_callbacks(execute=True):
        outbox_publish_pending()
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert alert.resolved_at is not None
    assert not open_alerts(level).exists()

    ship(product, location, 4)  # a new episode
    with django_capture_on_commit_callbacks(execute=True):
        outbox_publish_pending()
    assert Alert.objects.count() == 2
    assert open_alerts(level).get().available == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_raise_a_single_alert(product, location):
    level = factories.stock(product, location, 2, low_stock_threshold=5)
    barrier = threading.Barrier(6)

    def evaluate():
        try:
            barrier.wait()
            alerts.low_stock_evaluate(level_ids=[level.pk])
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Alert.objects.filter(stock_level=level).count() == 1


@pytest.mark.django_db
def test_acknowledge_then_resolve(product, location, owner, django_capture_on_commit_callbacks):
    level = factories.stock(product, location, 3, low_stock_threshold=5)
    alerts.low_stock_evaluate(level_ids=[level.pk])
    alert = Alert.objects.get()
    assert alerts.alert_acknowledge(alert=alert, actor=owner)
    assert not alerts.alert_acknowledge(alert=alert, actor=owner)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", owner)
    alerts.low_stock_evaluate(level_ids=[level.pk])  # still low: still the same, acknowledged
    assert Alert.objects.get().status == "acknowledged"
    receive(product, location, 10)
    alerts.low_stock_evaluate(level_ids=[level.pk])
    assert Alert.objects.get().status == "resolved"


@pytest.mark.django_db
def test_a_threshold_of_zero_and_inactive_products_raise_nothing(merchant, location):
    quiet = factories.stock(factories.product(merchant), location, 0)
    inactive = factories.product(merchant, is_active=False)
    retired = factories.stock(inactive, location, 0, low_stock_threshold=5)
    assert alerts.low_stock_evaluate(level_ids=[quiet.pk, retired.pk]) == {
        "raised": 0,
        "resolved": 0,
    }
    assert alerts.low_stock_scan() == {"raised": 0, "resolved": 0}


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        ({"on_hand": 3, "in_transit": 4, "max_level": 40, "reorder_point": 20}, 33),
        ({"on_hand": 8, "reserved": 2, "reorder_point": 20}, 14),
        ({"on_hand": 2, "low_stock_threshold": 5}, 4),
        ({"on_hand": 50, "max_level": 40}, 0),
    ],
)
def test_reorder_quantity(figures, expected):
    level = StockLevel(**{"low_stock_threshold": 5, **figures})
    assert alerts.reorder_quantity(level) == expected


@pytest.mark.django_db
def test_the_scan_raises_missed_alerts_and_resolves_stale_ones(merchant, location):
    low = factories.stock(factories.product(merchant), location, 1, low_stock_threshold=3)
    fine = factories.stock(factories.product(merchant), location, 9, low_stock_threshold=3)
    recovering = factories.stock(factories.product(merchant), location, 2, low_stock_threshold=3)
    alerts.low_stock_evaluate(level_ids=[recovering.pk])
    receive(recovering.product, location, 10)  # no event processing: only the scan sees it

    assert alerts.low_stock_scan() == {"raised": 1, "resolved": 1}
    assert open_alerts(low).count() == 1
    assert not open_alerts(fine).exists()
    assert not open_alerts(recovering).exists()
    assert alerts.low_stock_scan() == {"raised": 0, "resolved": 0}


@pytest.mark.django_db
def test_a_failing_listener_blocks_neither_the_others_nor_stock(
    settings, product, location, django_capture_on_commit_callbacks
):
    settings.STOCKROOM_ALERT_LISTENERS = [
        "tests.alerts.test_services.failing_listener",
        "tests.alerts.test_services.recording_listener",
    ]
    factories.stock(product, location, 10, low_stock_threshold=5)
    with django_capture_on_commit_callbacks(execute=True):
        ship(product, location, 8)
        outbox_publish_pending()
    alert = Alert.objects.get()
    assert [(alert.pk, "triggered")] == CALLS
    assert StockLevel.objects.get(product=product, location=location).on_hand == 2


@pytest.mark.django_db
def test_email_goes_to_owners_and_managers_of_the_location(
    settings, merchant, product, location, other_location, django_capture_on_commit_callbacks
):
    settings.STOCKROOM_ALERT_EMAILS = ["ops@example.com"]
    factories.user(merchant, email="owner@example.com")
    here = factories.user(merchant, role="manager", email="here@example.com")
    here.memberships.get().locations.set([location])
    elsewhere = factories.user(merchant, role="manager", email="elsewhere@example.com")
    elsewhere.memberships.get().locations.set([other_location])
    factories.user(merchant, role="viewer", email="viewer@example.com")
    factories.user(factories.merchant(), email="stranger@example.com")
    level = factories.stock(product, location, 1, low_stock_threshold=4, reorder_point=10)

    with django_capture_on_commit_callbacks(execute=True):
        alerts.low_stock_evaluate(level_ids=[level.pk])

    (message,) = mail.outbox
    assert sorted(message.to) == ["here@example.com", "ops@example.com", "owner@example.com"]
    assert product.sku in message.subject
    assert "Suggested reorder: 9 units." in message.body


@pytest.mark.django_db
def test_alerts_are_pushed_to_the_location_group(
    product, location, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()

    async def listen():
        channel = await layer.new_channel()
        await layer.group_add(location_group(product.merchant_id, location.pk), channel)
        return channel

    channel = async_to_sync(listen)()
    level = factories.stock(product, location, 1, low_stock_threshold=4)
    with django_capture_on_commit_callbacks(execute=True):
        alerts.low_stock_evaluate(level_ids=[level.pk])
        outbox_publish_pending()  # the alert goes out through the outbox, after the stock events
    stock_events = [async_to_sync(layer.receive)(channel)["event"]["type"] for _ in range(2)]
    assert stock_events == ["stock.changed", "stock.changed"]  # the receipt, the threshold
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "alert.event"
    assert message["event"]["type"] == "alert.triggered"
    assert message["event"]["data"]["sku"] == product.sku
    assert message["event"]["data"]["status"] == "triggered"


@pytest.mark.django_db
def test_nightly_verification_raises_an_alert_on_drift_and_resolves_it(product, location):
    level = factories.stock(product, location, 5)
    assert alerts.ledger_verify() == 0
    # Corrupt a balance behind the ledger's back, as a bad manual SQL fix would.
    StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + 2)
    assert alerts.ledger_verify() == 1
    assert alerts.ledger_verify() == 1
    alert = Alert.objects.get(kind="ledger_drift")
    assert alert.status == "triggered"
    assert alert.details["on_hand"] == [7, 5]
    # Each run is recorded for the /metrics drift gauges.
    assert LedgerVerification.objects.order_by("-pk").first().drifted_levels == 1
    StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") - 2)
    assert alerts.ledger_verify() == 0
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert LedgerVerification.objects.order_by("-pk").first().drifted_levels == 0


@pytest.mark.django_db
def test_an_alert_acknowledged_or_resolved_on_request_says_why_not(product, location):
    level = factories.stock(product, location, 2, low_stock_threshold=5)
    alerts.low_stock_evaluate(level_ids=[level.pk])
    low = Alert.objects.get(stock_level=level)
    assert alerts.alert_acknowledge_requested(alert=low, actor=None).status == "acknowledged"
    assert alerts.alert_acknowledge_requested(alert=low, actor=None).status == "acknowledged"
    with pytest.raises(InvalidState):
        alerts.alert_resolve_requested(alert=low)  # resolves itself when replenished
    assert Alert.objects.get(pk=low.pk).status == "acknowledged"
    drift = alerts.alert_raise(
        merchant_id=product.merchant_id, kind=Alert.Kind.LEDGER_DRIFT, subject="drift:1",
        message="drift", stock_level=level,
    )  # fmt: skip
    assert alerts.alert_resolve_requested(alert=drift).status == "resolved"
    assert alerts.alert_resolve_requested(alert=drift).status == "resolved"
    with pytest.raises(InvalidState) as refused:
        alerts.alert_acknowledge_requested(alert=drift, actor=None)
    assert refused.value.status == "resolved"
