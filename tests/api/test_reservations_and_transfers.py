"""reservations/ and their commit/release/extend actions; transfers/ and ship/receive/cancel."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.inventory.models import LedgerEntry, Reservation, StockLevel
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def level(product, location) -> StockLevel:
    return StockLevel.objects.get(product=product, location=location)


def test_reserve_commit(api, product, location, other_location):
    factories.stock(product, location, 4)
    factories.stock(product, other_location, 10)
    created = api.post_stock("/api/v1/reservations/", {
        "lines": [{"sku": product.sku, "quantity": 6}], "ttl_seconds": 120, "order_ref": "WEB-7",
    })  # fmt: skip
    assert created.status_code == 201
    data = created.json()
    assert data["status"] == "active"
    assert data["order_ref"] == "WEB-7"
    assert sorted((ln["location"], ln["quantity"]) for ln in data["lines"]) == sorted(
        [(location.code, 4), (other_location.code, 2)])  # fmt: skip
    assert api.get(f"/api/v1/reservations/{data['id']}/").json() == data
    committed = api.post_stock(f"/api/v1/reservations/{data['id']}/commit/")
    assert committed.json()["status"] == "committed"
    assert (level(product, location).on_hand, level(product, other_location).on_hand) == (0, 8)
    again = api.post_stock(f"/api/v1/reservations/{data['id']}/commit/")
    assert assert_problem(again, 409, "invalid_state")["state"] == "committed"
    release = api.post_stock(f"/api/v1/reservations/{data['id']}/release/")
    assert_problem(release, 409, "invalid_state")


def test_release_and_extend(api, product, location, stocked):
    rid = api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 3}]}).json()["id"]  # fmt: skip
    extended = api.post_stock(f"/api/v1/reservations/{rid}/extend/", {"ttl_seconds": 3600})
    expires = Reservation.objects.get(pk=rid).expires_at
    assert extended.status_code == 200
    assert expires > timezone.now() + timedelta(minutes=59)
    assert_problem(api.post_stock(f"/api/v1/reservations/{rid}/extend/", {"ttl_seconds": 0}),
                   400, "invalid_request")  # fmt: skip
    released = api.post_stock(f"/api/v1/reservations/{rid}/release/")
    assert released.json()["status"] == "released"
    assert level(product, location).reserved == 0
    assert_problem(api.post_stock(f"/api/v1/reservations/{rid}/extend/", {"ttl_seconds": 60}),
                   409, "invalid_state")  # fmt: skip


def test_reservation_refusals(api, merchant, product, location, stocked):
    short = api.post_stock("/api/v1/reservations/", {"lines": [{"sku": product.sku,
                                                                "quantity": 11}]})  # fmt: skip
    problem = assert_problem(short, 409, "insufficient_stock")
    assert problem["lines"] == [{"sku": product.sku, "location": None, "requested": 11,
                                 "available": 10}]  # fmt: skip
    closed = factories.location(merchant, status="inactive")
    at_closed = api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": closed.code, "quantity": 1}]})  # fmt: skip
    assert_problem(at_closed, 409, "location_unavailable")
    inactive = factories.product(merchant, is_active=False)
    assert_problem(api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": inactive.sku, "quantity": 1}]}), 409, "product_inactive")  # fmt: skip
    assert level(product, location).reserved == 0
    assert_problem(api.post_stock(f"/api/v1/reservations/{uuid.uuid4()}/commit/"), 404,
                   "not_found")  # fmt: skip


def test_expired_reservation_cannot_commit(api, product, location, stocked):
    rid = api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "quantity": 1}], "ttl_seconds": 60}).json()["id"]  # fmt: skip
    Reservation.objects.filter(pk=rid).update(expires_at=timezone.now() - timedelta(seconds=1))
    problem = assert_problem(api.post_stock(f"/api/v1/reservations/{rid}/commit/"), 409,
                             "invalid_state")  # fmt: skip
    assert problem["state"] == "expired"


def test_a_reservation_past_its_ttl_reads_expired_everywhere_before_the_sweeper(
    api, product, location, stocked
):
    rid = api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 2}]}).json()["id"]  # fmt: skip
    live = api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 1}]}).json()["id"]  # fmt: skip
    Reservation.objects.filter(pk=rid).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert api.get(f"/api/v1/reservations/{rid}/").json()["status"] == "expired"
    listed = {r["id"]: r["status"] for r in api.get("/api/v1/reservations/").json()["results"]}
    assert listed == {rid: "expired", live: "active"}
    active = [r["id"] for r in api.get("/api/v1/reservations/?status=active").json()["results"]]
    expired = [r["id"] for r in api.get("/api/v1/reservations/?status=expired").json()["results"]]
    assert (active, expired) == ([live], [rid])
    # Reads write nothing: the sweeper still releases the units, exactly once.
    assert Reservation.objects.get(pk=rid).status == "active"
    assert level(product, location).reserved == 3

    # Releasing it now is what the sweeper would do: it expires (the units come back once).
    released = api.post_stock(f"/api/v1/reservations/{rid}/release/")
    assert (released.status_code, released.json()["status"]) == (200, "expired")
    assert level(product, location).reserved == 1
    assert (
        LedgerEntry.objects.filter(reference=f"reservation:{rid}").latest("id").reason == "expire"
    )


def test_reservation_list_filters_and_query_count(api, product, location, stocked,
                                                  django_assert_num_queries):  # fmt: skip
    for ref in ("A", "B", "C"):
        api.post_stock("/api/v1/reservations/", {"lines": [{"sku": product.sku, "quantity": 1}],
                                                 "order_ref": ref})  # fmt: skip
    refs = [r["order_ref"] for r in api.get("/api/v1/reservations/?order_ref=B").json()["results"]]
    assert refs == ["B"]
    with django_assert_num_queries(4):  # key, count, page, lines with products and locations
        assert len(api.get("/api/v1/reservations/?status=active").json()["results"]) == 3
    for _ in range(4):
        api.post_stock("/api/v1/reservations/", {"lines": [{"sku": product.sku, "quantity": 1}]})
    with django_assert_num_queries(4):
        assert len(api.get("/api/v1/reservations/").json()["results"]) == 7


def test_transfer_ship_receive(api, product, location, other_location, stocked):
    created = api.post_stock("/api/v1/transfers/", {
        "source": location.code, "destination": other_location.code, "reference": "TR-9",
        "lines": [{"sku": product.sku, "quantity": 4}],
    })  # fmt: skip
    assert created.status_code == 201
    tid = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert created.json()["lines"] == [{"sku": product.sku, "quantity": 4}]
    shipped = api.post_stock(f"/api/v1/transfers/{tid}/ship/")
    assert shipped.json()["status"] == "in_transit"
    assert level(product, location).on_hand == 6
    assert level(product, other_location).in_transit == 4
    assert_problem(api.post_stock(f"/api/v1/transfers/{tid}/cancel/"), 409, "invalid_state")
    received = api.post_stock(f"/api/v1/transfers/{tid}/receive/")
    assert received.json()["status"] == "received"
    assert received.json()["received_at"] is not None
    assert (level(product, other_location).on_hand, level(product, other_location).in_transit) == (
        4, 0)  # fmt: skip


def test_transfer_refusals_and_cancel(api, product, location, other_location):
    same = api.post_stock("/api/v1/transfers/", {"source": location.code,
                                                 "destination": location.code,
                                                 "lines": [{"sku": product.sku, "quantity": 1}]})  # fmt: skip
    assert "destination" in assert_problem(same, 400, "invalid_request")["fields"]
    tid = api.post_stock("/api/v1/transfers/", {
        "source": location.code, "destination": other_location.code,
        "lines": [{"sku": product.sku, "quantity": 2}]}).json()["id"]  # fmt: skip
    problem = assert_problem(api.post_stock(f"/api/v1/transfers/{tid}/ship/"), 409,
                             "insufficient_stock")  # fmt: skip
    assert problem["lines"][0]["requested"] == 2
    cancelled = api.post_stock(f"/api/v1/transfers/{tid}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    statuses = [
        t["status"] for t in api.get("/api/v1/transfers/?status=cancelled").json()["results"]
    ]
    assert statuses == ["cancelled"]


def test_transfer_list_query_count(api, merchant, location, other_location,
                                   django_assert_num_queries):  # fmt: skip
    def make():
        product = factories.product(merchant)
        api.post_stock("/api/v1/transfers/", {"source": location.code,
                                              "destination": other_location.code,
                                              "lines": [{"sku": product.sku, "quantity": 1}]})  # fmt: skip

    for _ in range(2):
        make()
    with django_assert_num_queries(4):
        assert len(api.get("/api/v1/transfers/").json()["results"]) == 2
    for _ in range(5):
        make()
    with django_assert_num_queries(4):
        assert len(api.get("/api/v1/transfers/").json()["results"]) == 7
