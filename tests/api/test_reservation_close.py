"""Committing or releasing a reservation is one statement: status, locks in order, stock,
ledger, outbox and the key's claim with the answer a retry gets."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.models import IdempotencyRecord
from apps.inventory import selectors, services
from apps.inventory.api.serializers import ReservationSerializer
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, Reservation, StockLevel
from tests import factories
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


def reserve(merchant, lines, **extra):
    return services.reservation_create(
        merchant=merchant,
        lines=[
            services.ReservationLineRequest(product=p, location=loc, quantity=q)
            for p, loc, q in lines
        ],
        actor=None,
        idempotency_key=factories.key(),
        **extra,
    )


def test_a_commit_is_one_statement_on_a_warm_process(
    settings, merchant, product, location, django_assert_num_queries
):
    settings.STOCKROOM_API_KEY_CACHE_SECONDS = 60
    factories.stock(product, location, 10)
    api = client_for(merchant)
    warm = reserve(merchant, [(product, location, 1)])
    assert api.post_stock(f"/api/v1/reservations/{warm.pk}/release/").status_code == 200
    held = reserve(merchant, [(product, location, 4)], order_ref="WEB-5")
    with django_assert_num_queries(1):
        committed = api.post_stock(f"/api/v1/reservations/{held.pk}/commit/", key="pay-5")
    assert committed.status_code == 200
    assert committed.json()["status"] == "committed"
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.reserved) == (6, 0)
    assert level.last_sold_at is not None  # a commit is a sale; the release before was not
    entry = LedgerEntry.objects.get(reason="commit")
    assert (entry.on_hand_delta, entry.reserved_delta, entry.idempotency_key) == (-4, -4, "pay-5")
    record = IdempotencyRecord.objects.get(key="pay-5")
    assert (record.response_status, record.response_body) == (200, committed.json())
    assert find_drift() == []


@pytest.mark.parametrize("microseconds", [0, 123456])
def test_the_answer_written_by_the_statement_is_the_serializer_s(
    merchant, product, location, microseconds
):
    factories.stock(product, location, 10)
    past = datetime(2026, 11, 2, 9, 30, 15, microseconds, tzinfo=UTC)
    with services.recorded_at(past):
        held = reserve(merchant, [(product, location, 2)], order_ref="X-1", ttl_seconds=3600)
    with services.recorded_at(past + timedelta(minutes=1)):
        document = services.reservation_close_at_once(
            merchant=merchant, reservation_id=held.pk, commit=True, actor=None,
            idempotency_key="c-1", request="f" * 64,
        )  # fmt: skip
    fresh = selectors.reservation_get(merchant=merchant, reservation_id=held.pk)
    assert json.loads(document) == ReservationSerializer(fresh).data


def test_a_retry_answers_the_first_response(merchant, product, location):
    factories.stock(product, location, 10)
    api = client_for(merchant)
    held = reserve(merchant, [(product, location, 3)])
    first = api.post_stock(f"/api/v1/reservations/{held.pk}/release/", key="cancel-1")
    retry = api.post_stock(f"/api/v1/reservations/{held.pk}/release/", key="cancel-1")
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert retry["Idempotent-Replayed"] == "true"
    assert first.json()["status"] == "released"
    assert LedgerEntry.objects.filter(reason="release").count() == 1
    assert_problem(api.post_stock(f"/api/v1/reservations/{held.pk}/commit/"), 409,
                   "invalid_state")  # fmt: skip


def test_an_expired_reservation_is_left_to_the_transactional_path(merchant, product, location):
    factories.stock(product, location, 10)
    api = client_for(merchant)
    held = reserve(merchant, [(product, location, 3)])
    Reservation.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = api.post_stock(f"/api/v1/reservations/{held.pk}/commit/")
    assert assert_problem(refused, 409, "invalid_state")["state"] == "expired"
    released = api.post_stock(f"/api/v1/reservations/{held.pk}/release/")
    assert released.json()["status"] == "expired"  # released past its TTL: expired
    assert StockLevel.objects.get(product=product, location=location).reserved == 0


def test_a_reservation_over_several_levels_closes_them_all(
    merchant, product, location, other_location
):
    other = factories.product(merchant)
    for p in (product, other):
        for loc in (location, other_location):
            factories.stock(p, loc, 5)
    held = reserve(merchant, [(product, location, 2), (other, other_location, 3),
                              (product, other_location, 1)])  # fmt: skip
    committed = client_for(merchant).post_stock(f"/api/v1/reservations/{held.pk}/commit/")
    assert committed.status_code == 200
    assert sorted((line["sku"], line["location"], line["quantity"])
                  for line in committed.json()["lines"]) == sorted(
        [(product.sku, location.code, 2), (other.sku, other_location.code, 3),
         (product.sku, other_location.code, 1)])  # fmt: skip
    assert LedgerEntry.objects.filter(reason="commit").count() == 3
    assert sum(StockLevel.objects.values_list("on_hand", flat=True)) == 20 - 6
    assert find_drift() == []


@pytest.mark.concurrency
def test_of_racing_commits_and_releases_exactly_one_wins(merchant, product, location):
    factories.stock(product, location, 100)
    api = client_for(merchant)
    held = [reserve(merchant, [(product, location, 2)]) for _ in range(10)]
    start = threading.Barrier(20)

    def close(n):
        try:
            start.wait()
            action = "commit" if n % 2 else "release"
            return api.post_stock(f"/api/v1/reservations/{held[n // 2].pk}/{action}/").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(close, range(20)))
    assert statuses.count(200) >= 10
    closed = Reservation.objects.filter(pk__in=[r.pk for r in held])
    assert all(r.status in ("committed", "released") for r in closed)
    committed = closed.filter(status="committed").count()
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.reserved) == (100 - 2 * committed, 0)
    assert LedgerEntry.objects.filter(reason__in=["commit", "release"]).count() == 10
    assert find_drift() == []


def test_the_statement_s_answer_names_what_a_substitute_stands_for(merchant, location):
    from apps.catalog.services import MemberRequest, substitution_group_create

    single = factories.product(merchant, sku="EGG-1")
    box = factories.product(merchant, sku="EGG-6")
    substitution_group_create(
        merchant=merchant, code="EGGS", name="Eggs",
        members=[MemberRequest(single, 1), MemberRequest(box, 6)],
    )  # fmt: skip
    factories.stock(box, location, 5)
    held = services.reservation_create(
        merchant=merchant,
        lines=[
            services.ReservationLineRequest(
                product=single, location=location, quantity=6, substitutes=True
            )
        ],
        actor=None,
        idempotency_key=factories.key(),
    )
    document = services.reservation_close_at_once(
        merchant=merchant, reservation_id=held.pk, commit=True, actor=None,
        idempotency_key="c-sub", request="f" * 64,
    )  # fmt: skip
    fresh = selectors.reservation_get(merchant=merchant, reservation_id=held.pk)
    answer = json.loads(document)
    assert answer == ReservationSerializer(fresh).data
    assert answer["lines"] == [
        {"sku": "EGG-6", "location": location.code, "quantity": 1,
         "substitute_for": {"sku": "EGG-1", "quantity": 6}},
    ]  # fmt: skip
    assert find_drift() == []
