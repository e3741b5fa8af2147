import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.inventory import services
from apps.inventory.models import OutboxEvent, Reservation
from apps.observability import metrics
from apps.observability.services import ledger_verification_run
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_database_figures():
    metrics.DATABASE_COLLECTOR._cached = None  # every test sees the figures of its own data
    yield
    metrics.DATABASE_COLLECTOR._cached = None


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def reserve(merchant, product, quantity):
    return services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, quantity=quantity)],
        actor=None,
        idempotency_key=factories.key(),
    )


def test_metrics_need_the_bearer_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def test_without_a_token_only_loopback_may_scrape(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 401


def test_reservation_figures_are_counted_from_the_database(client, merchant, product, location):
    factories.stock(product, location, 10)
    kept = reserve(merchant, product, 3)
    released = reserve(merchant, product, 2)
    services.reservation_release(
        merchant=merchant, reservation_id=released.pk, actor=None, idempotency_key=factories.key()
    )
    expiring = reserve(merchant, product, 4)
    Reservation.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(1))
    samples = scrape(client)
    assert samples[("stockroom_reservations_created_total", ())] == 3
    assert samples[("stockroom_reservations_expired_total", ())] == 0
    assert samples[("stockroom_reservations", (("status", "active"),))] == 2
    assert samples[("stockroom_reservations", (("status", "released"),))] == 1
    assert samples[("stockroom_reservations_active_units", ())] == 7
    assert samples[("stockroom_reservations_overdue", ())] == 1

    assert services.reservation_expire_due() == 1
    metrics.DATABASE_COLLECTOR._cached = None
    samples = scrape(client)
    assert samples[("stockroom_reservations_expired_total", ())] == 1
    assert samples[("stockroom_reservations_overdue", ())] == 0
    assert samples[("stockroom_reservations_active_units", ())] == 3
    assert kept.pk in set(Reservation.objects.filter(status="active").values_list("pk", flat=True))


def test_oversold_units_are_computed_not_assumed(client, product, location):
    level = factories.stock(product, location, 5)
    assert scrape(client)[("stockroom_oversold_units", ())] == 0
    # Only a broken database could hold this: drop the guard inside the test's transaction
    # (rolled back afterwards) to show the gauge reads the real figures.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks first
        cursor.execute(
            "ALTER TABLE inventory_stocklevel DROP CONSTRAINT stocklevel_reserved_within_on_hand"
        )
        cursor.execute(
            "UPDATE inventory_stocklevel SET reserved = on_hand + 4 WHERE id = %s", [level.pk]
        )
    metrics.DATABASE_COLLECTOR._cached = None
    assert scrape(client)[("stockroom_oversold_units", ())] == 4


def test_outbox_lag_is_the_age_of_the_oldest_unpublished_event(client, product, location):
    assert scrape(client)[("stockroom_outbox_lag_seconds", ())] == 0
    factories.stock(product, location, 5)
    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(seconds=90))
    metrics.DATABASE_COLLECTOR._cached = None
    samples = scrape(client)
    assert samples[("stockroom_outbox_pending_events", ())] == OutboxEvent.objects.count() > 0
    assert 90 <= samples[("stockroom_outbox_lag_seconds", ())] < 150

    OutboxEvent.objects.update(published_at=timezone.now())
    metrics.DATABASE_COLLECTOR._cached = None
    samples = scrape(client)
    assert samples[("stockroom_outbox_pending_events", ())] == 0
    assert samples[("stockroom_outbox_lag_seconds", ())] == 0


def test_drift_gauge_follows_the_last_verification(client, product, location):
    level = factories.stock(product, location, 5)
    assert ("stockroom_ledger_drift_levels", ()) not in scrape(client)
    run = ledger_verification_run()
    assert run.ok
    metrics.DATABASE_COLLECTOR._cached = None
    samples = scrape(client)
    assert samples[("stockroom_ledger_drift_levels", ())] == 0
    assert samples[("stockroom_ledger_verification_timestamp_seconds", ())] == pytest.approx(
        run.finished_at.timestamp()
    )

    with connection.cursor() as cursor:  # a balance changed behind the ledger's back
        cursor.execute("UPDATE inventory_stocklevel SET on_hand = 7 WHERE id = %s", [level.pk])
    run = ledger_verification_run()
    assert (run.drifted_levels, run.oversold_units) == (1, 0)
    assert "on_hand stored 7 expected 5" in run.sample[0]
    metrics.DATABASE_COLLECTOR._cached = None
    assert scrape(client)[("stockroom_ledger_drift_levels", ())] == 1


def test_request_latency_is_recorded_by_route(client):
    def observed() -> float:
        return (
            metrics.REGISTRY.get_sample_value(
                "stockroom_http_request_duration_seconds_count",
                {"method": "GET", "route": "healthz", "status": "200"},
            )
            or 0.0
        )

    before = observed()
    client.get("/healthz")
    client.get("/healthz")
    assert observed() == before + 2
    client.get("/no-such-page")
    assert metrics.REGISTRY.get_sample_value(
        "stockroom_http_request_duration_seconds_count",
        {"method": "GET", "route": "unmatched", "status": "404"},
    )


@pytest.mark.urls("tests.observability.urls")
def test_refused_reservations_are_counted(client, merchant, product, location):
    factories.stock(product, location, 2)

    def reserve(quantity, url="/shop/reservations/"):
        data = {"merchant": merchant.pk, "product": product.pk, "quantity": quantity}
        return client.post(url, data, HTTP_IDEMPOTENCY_KEY=factories.key())

    assert reserve(2).status_code == 201
    refused = reserve(1)
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_stock"
    assert reserve(5).status_code == 409
    # A 409 on another route (not the reservation collection) is not a refused reservation.
    assert reserve(5, f"/shop/reservations/{uuid.uuid4()}/extend/").status_code == 409
    assert scrape(client)[("stockroom_reservations_refused_total", ())] == 2


def test_shared_counters_fail_soft_without_redis(settings, unused_port):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{unused_port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    metrics.count("webhook_failures")  # does not raise
    assert list(metrics.SHARED_COLLECTOR.collect()) == []
    with pytest.raises(KeyError):
        metrics.count("no_such_counter")
