"""A one-line reservation at a named location is one statement: codes, key, guard, update,
ledger, outbox, reservation, line and the response to replay, in one round trip."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core import idempotency
from apps.core.models import IdempotencyRecord
from apps.inventory import services
from apps.inventory.engine.changes import CodedReservation
from apps.inventory.engine.reservations import reserve_by_code
from apps.inventory.exceptions import InsufficientStock
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, OutboxEvent, Reservation, ReservationLine, StockLevel
from apps.inventory.services import reservation_by_code
from apps.inventory.services.reservation_by_code import (
    _fingerprint_around_lines,
    by_code_fingerprint,
)
from tests import factories
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def warm_key(settings):
    """A process that remembers its API keys (as in production), so that a warm request
    costs only its own statements."""
    settings.STOCKROOM_API_KEY_CACHE_SECONDS = 60


def reserve(api, sku, location, quantity, key, **extra):
    body = {"lines": [{"sku": sku, "location": location, "quantity": quantity}], **extra}
    return api.post_stock("/api/v1/reservations/", body, key=key)


def test_a_reservation_is_one_statement_on_a_warm_process(
    warm_key, merchant, product, location, django_assert_num_queries
):
    factories.stock(product, location, 10)
    api = client_for(merchant)
    assert reserve(api, product.sku, location.code, 1, "warm-up").status_code == 201
    with django_assert_num_queries(1):
        response = reserve(api, product.sku, location.code, 3, "order-1", order_ref="WEB-1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active"
    assert body["order_ref"] == "WEB-1"
    assert body["lines"] == [{"sku": product.sku, "location": location.code, "quantity": 3}]
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.reserved) == (10, 4)
    reservation = Reservation.objects.get(pk=body["id"])
    assert (reservation.status, reservation.order_ref, reservation.source) == (
        "active", "WEB-1", "api",
    )  # fmt: skip
    assert list(ReservationLine.objects.filter(reservation=reservation).values_list(
        "quantity", "stock_level_id")) == [(3, level.pk)]  # fmt: skip
    entry = LedgerEntry.objects.get(reference=f"reservation:{reservation.pk}")
    assert (entry.reason, entry.reserved_delta, entry.reserved_after) == ("reserve", 3, 4)
    assert entry.idempotency_key == "order-1"
    assert OutboxEvent.objects.filter(ledger_entry=entry).count() == 1
    record = IdempotencyRecord.objects.get(merchant=merchant, key="order-1")
    assert record.response_status == 201
    assert record.response_body == body
    assert record.result["reservation_id"] == body["id"]
    assert find_drift() == []


def test_a_retry_answers_the_first_response_even_after_the_reservation_moved_on(
    merchant, product, location
):
    """The response is stored by the statement that reserved: a retry after the connection
    died at commit gets `active`, not what the reservation is now."""
    factories.stock(product, location, 10)
    api = client_for(merchant)
    first = reserve(api, product.sku, location.code, 2, "order-2")
    assert first.status_code == 201
    committed = api.post_stock(f"/api/v1/reservations/{first.json()['id']}/commit/")
    assert committed.json()["status"] == "committed"
    retry = reserve(api, product.sku, location.code, 2, "order-2")
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry["Idempotent-Replayed"] == "true"
    assert Reservation.objects.filter(merchant=merchant).count() == 1
    other = reserve(api, product.sku, location.code, 3, "order-2")
    assert_problem(other, 422, "idempotency_key_reused")


def test_the_statement_s_fingerprint_is_the_service_s(merchant, product, location):
    """A key first used by the one-statement path replays through the general service (an
    admin retry, say), and the other way round: both hash the same canonical request."""
    factories.stock(product, location, 10)
    request = {"lines": [[product.pk, location.pk, 2]], "ttl": 900, "order_ref": "X"}
    assert by_code_fingerprint(product.pk, location.pk, 2, 900, "X") == idempotency.fingerprint(
        "reservation.create", {**request, "near": None}
    )
    held = reserve(client_for(merchant), product.sku, location.code, 2, "both", ttl_seconds=900,
                   order_ref="X")  # fmt: skip
    assert held.status_code == 201
    replay = services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, location=location, quantity=2)],
        actor=None,
        idempotency_key="both",
        ttl_seconds=900,
        order_ref="X",
    )
    assert replay.replayed
    assert str(replay.pk) == held.json()["id"]


def test_not_enough_stock_is_409_with_the_figures_and_writes_nothing(
    warm_key, merchant, product, location, django_assert_num_queries
):
    factories.stock(product, location, 5, safety_stock=1)
    api = client_for(merchant)
    assert reserve(api, product.sku, location.code, 1, "warm-up").status_code == 201
    before = LedgerEntry.objects.count()
    with django_assert_num_queries(1):  # the refusal comes back in the statement's result
        refused = reserve(api, product.sku, location.code, 4, "too-many")
    body = assert_problem(refused, 409, "insufficient_stock")
    assert body["lines"] == [
        {"sku": product.sku, "location": location.code, "requested": 4, "available": 3}
    ]
    assert LedgerEntry.objects.count() == before
    assert not IdempotencyRecord.objects.filter(key="too-many").exists()
    assert StockLevel.objects.get(product=product, location=location).reserved == 1


def test_what_one_statement_cannot_answer_takes_the_general_path(
    merchant, product, location, other_location
):
    factories.stock(product, location, 10)
    api = client_for(merchant)
    unknown = reserve(api, "NOPE", location.code, 1, "k1")
    assert assert_problem(unknown, 400, "invalid_request")["fields"] == {
        "lines.0.sku": ["Unknown SKU NOPE."]
    }
    assert_problem(reserve(api, product.sku, "nowhere", 1, "k2"), 400, "invalid_request")
    never_stocked = reserve(api, product.sku, other_location.code, 1, "k3")
    assert assert_problem(never_stocked, 409, "insufficient_stock")["lines"][0]["available"] == 0
    other_location.status = "maintenance"
    other_location.save()
    assert_problem(reserve(api, product.sku, other_location.code, 1, "k4"), 409,
                   "location_unavailable")  # fmt: skip
    product.is_active = False
    product.save()
    assert_problem(reserve(api, product.sku, location.code, 1, "k5"), 409, "product_inactive")
    assert not IdempotencyRecord.objects.filter(key__in=["k1", "k2", "k3", "k4", "k5"]).exists()


def test_a_level_with_buckets_is_reserved_on_a_bucket(merchant, product, location):
    factories.stock(product, location, 40)
    services.stock_level_configure(
        merchant=merchant, product=product, location=location, actor=None,
        idempotency_key=factories.key(), bucket_count=4,
    )  # fmt: skip
    response = reserve(client_for(merchant), product.sku, location.code, 3, "bucketed")
    assert response.status_code == 201, response.content
    assert ReservationLine.objects.get(reservation_id=response.json()["id"]).bucket_id is not None
    assert find_drift() == []


def test_a_key_past_the_retention_window_is_claimed_afresh(merchant, product, location, settings):
    factories.stock(product, location, 10)
    api = client_for(merchant)
    first = reserve(api, product.sku, location.code, 1, "nightly")
    window = timedelta(hours=settings.STOCKROOM_IDEMPOTENCY_RETENTION_HOURS)
    IdempotencyRecord.objects.filter(key="nightly").update(
        created_at=timezone.now() - window - timedelta(minutes=1)
    )
    again = reserve(api, product.sku, location.code, 1, "nightly")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    assert StockLevel.objects.get(product=product, location=location).reserved == 2


@pytest.mark.concurrency
def test_one_key_sent_by_many_connections_at_once_reserves_once(merchant, product, location):
    factories.stock(product, location, 100)
    api = client_for(merchant)
    start = threading.Barrier(8)

    def send(_):
        try:
            start.wait()
            return reserve(api, product.sku, location.code, 5, "same-order")
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(8)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert StockLevel.objects.get(product=product, location=location).reserved == 5
    assert Reservation.objects.filter(merchant=merchant).count() == 1
    assert find_drift() == []


@pytest.mark.concurrency
def test_racing_orders_take_exactly_the_stock_there_is(merchant, product, location):
    factories.stock(product, location, 20)
    api = client_for(merchant)
    start = threading.Barrier(26)

    def send(n):
        try:
            start.wait()
            return [reserve(api, product.sku, location.code, 1, f"o-{n}-{i}").status_code
                    for i in range(2)]  # fmt: skip
        finally:
            connection.close()

    with ThreadPoolExecutor(26) as pool:
        statuses = [code for codes in pool.map(send, range(26)) for code in codes]
    assert statuses.count(201) == 20
    assert statuses.count(409) == 32
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.reserved) == (20, 20)
    assert find_drift() == []


def coded(key: str, quantity: int) -> CodedReservation:
    now = timezone.now()
    prefix, suffix = _fingerprint_around_lines(None, "")
    return CodedReservation(
        idempotency_key=key, quantity=quantity, reservation_id=uuid.uuid4(), order_ref="",
        expires_at=now + timedelta(minutes=10), at=now, actor_id=None, api_key_id=None,
        api_key_name="", source="api", result=json.dumps({}), response_status=None,
        response_body=None, fingerprint_prefix=prefix, fingerprint_suffix=suffix,
    )  # fmt: skip


def run_statement(merchant, product, location, requests):
    return reserve_by_code(
        merchant_id=merchant.pk, sku=product.sku, location_code=location.code,
        requests=requests, operation="reservation.create",
        retained_since=timezone.now() - timedelta(days=1), at=timezone.now(),
    )  # fmt: skip


def test_a_batch_admits_orders_in_turn_to_the_last_unit(merchant, product, location):
    """5 available: 3 is admitted, the next 3 is refused, 2 still fits; the level moves once,
    with one ledger row (its own running figures and version) per admitted order."""
    level = factories.stock(product, location, 6, safety_stock=1)
    found = run_statement(
        merchant, product, location, [coded("b-1", 3), coded("b-2", 3), coded("b-3", 2)]
    )
    assert [f.line_id is not None for f in found] == [True, False, True]
    assert {f.available for f in found} == {0}  # what is left after the batch
    level.refresh_from_db()
    assert (level.reserved, level.version) == (5, 4)  # received, configured, 2 admitted
    entries = LedgerEntry.objects.filter(reason="reserve").order_by("id")
    assert [(e.idempotency_key, e.reserved_delta, e.reserved_after, e.version_after)
            for e in entries] == [("b-1", 3, 3, 3), ("b-3", 2, 5, 4)]  # fmt: skip
    assert OutboxEvent.objects.filter(ledger_entry__in=entries).count() == 2
    assert set(
        IdempotencyRecord.objects.filter(key__startswith="b-").values_list("key", flat=True)
    ) == {"b-1", "b-3"}
    assert find_drift() == []


def test_a_batch_leaves_keys_seen_before_to_their_replay(merchant, product, location):
    factories.stock(product, location, 10)
    run_statement(merchant, product, location, [coded("seen", 1)])
    found = run_statement(merchant, product, location, [coded("seen", 1), coded("new", 2)])
    assert found[0].prior_fingerprint is not None
    assert found[0].line_id is None
    assert found[1].line_id is not None
    assert StockLevel.objects.get(product=product, location=location).reserved == 3


@pytest.mark.concurrency
def test_orders_arriving_together_are_reserved_in_batches(merchant, product, location, monkeypatch):
    """Many threads on one hot level: orders that queue while one statement runs go in the
    next one (fewer statements than orders), and exactly the stock there is gets reserved."""
    factories.stock(product, location, 150)
    sizes: list[int] = []
    original = reservation_by_code.reserve_by_code

    def counted(**kwargs):
        sizes.append(len(kwargs["requests"]))
        return original(**kwargs)

    monkeypatch.setattr(reservation_by_code, "reserve_by_code", counted)
    start = threading.Barrier(30)

    def order(n):
        try:
            start.wait()
            return [
                services.reservation_create_by_code(
                    merchant=merchant, sku=product.sku, location_code=location.code,
                    quantity=1 + (n + i) % 3, actor=None, idempotency_key=f"hot-{n}-{i}",
                ) is not None
                for i in range(5)
            ]  # fmt: skip
        except InsufficientStock:
            return [False]
        finally:
            connection.close()

    with ThreadPoolExecutor(30) as pool:
        list(pool.map(order, range(30)))
    level = StockLevel.objects.get(product=product, location=location)
    assert level.reserved == sum(ReservationLine.objects.values_list("quantity", flat=True))
    assert level.reserved <= 150
    assert max(sizes) > 1  # batches formed
    assert len(sizes) < sum(sizes)
    assert find_drift() == []


def test_the_statement_stays_short_enough_for_psycopg_to_cache_its_parse():
    """psycopg parses a statement's placeholders once per process when the text is at most
    4,096 characters; the reservation statement runs on every order."""
    from apps.inventory.engine.statements.reservations import _RESERVE_BY_CODE

    assert len(_RESERVE_BY_CODE) <= 4096
