"""ledger/: filters, cursor pagination, CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.inventory.models import LedgerEntry
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(api, merchant, product, location, other_location):
    factories.stock(product, location, 10)
    api.post_stock("/api/v1/stock/shipments/", {"sku": product.sku, "location": location.code,
                                                "quantity": 2, "reference": "ORD-1"})  # fmt: skip
    api.post_stock("/api/v1/stock/receipts/", {"sku": product.sku,
                                               "location": other_location.code, "quantity": 5,
                                               "reason": "=HYPERLINK(1)"})  # fmt: skip
    return list(LedgerEntry.objects.filter(merchant=merchant).order_by("id"))


def test_ledger_filters(api, product, location, other_location, history):
    def ids(query):
        return [row["id"] for row in api.get(f"/api/v1/ledger/{query}").json()["results"]]

    assert ids("") == [e.pk for e in reversed(history)]
    assert ids(f"?location={other_location.code}") == [history[2].pk]
    assert ids("?reason=sale") == [history[1].pk]
    assert ids("?reference=ORD-1") == [history[1].pk]
    assert ids(f"?sku={product.sku}&location={location.code}") == [history[1].pk, history[0].pk]
    future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"?since={future}") == []
    assert len(ids(f"?until={future}")) == 3
    assert_problem(api.get("/api/v1/ledger/?reason=theft"), 400, "invalid_request")
    assert_problem(api.get("/api/v1/ledger/?since=yesterday"), 400, "invalid_request")


def test_ledger_cursor_pagination_walks_every_entry_once(api, history):
    seen, url = [], "/api/v1/ledger/?page_size=2"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == [e.pk for e in reversed(history)]
    assert_problem(api.get("/api/v1/ledger/?cursor=garbage"), 404, "not_found")


def test_ledger_query_count_does_not_grow(api, merchant, location, history,
                                          django_assert_num_queries):  # fmt: skip
    with django_assert_num_queries(2):
        assert len(api.get("/api/v1/ledger/").json()["results"]) == 3
    for _ in range(5):
        factories.stock(factories.product(merchant), location, 1)
    with django_assert_num_queries(2):
        assert len(api.get("/api/v1/ledger/").json()["results"]) == 8


def test_ledger_csv_export(api, product, other_location, history):
    response = api.get(f"/api/v1/ledger/export/?location={other_location.code}",
                       headers={"Accept": "text/csv"})  # fmt: skip
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert len(rows) == 1
    assert rows[0]["id"] == str(history[2].pk)
    assert rows[0]["sku"] == product.sku
    assert rows[0]["on_hand_delta"] == "5"
    assert rows[0]["note"] == "'=HYPERLINK(1)"  # no formula injection into spreadsheets


def test_reference_filter_finds_transfers_and_reservations_by_the_reference_given(
    api, merchant, product, location, other_location
):
    factories.stock(product, location, 10)
    transfer = api.post_stock("/api/v1/transfers/", {
        "source": location.code, "destination": other_location.code, "reference": "TR-1",
        "lines": [{"sku": product.sku, "quantity": 3}],
    }).json()  # fmt: skip
    api.post_stock(f"/api/v1/transfers/{transfer['id']}/ship/")
    api.post_stock(f"/api/v1/transfers/{transfer['id']}/receive/")
    reservation = api.post_stock("/api/v1/reservations/", {
        "lines": [{"sku": product.sku, "location": location.code, "quantity": 1}],
    }).json()  # fmt: skip
    api.post_stock("/api/v1/stock/adjustments/", {"sku": product.sku, "location": location.code,
                                                  "delta": 1, "reason": "Found", "reference": "TR-1"})  # fmt: skip

    def reasons(reference):
        rows = api.get("/api/v1/ledger/", {"reference": reference}).json()["results"]
        return sorted(row["reason"] for row in rows)

    moved = ["adjust", "transfer_in", "transfer_in_transit", "transfer_out"]
    assert reasons("TR-1") == moved  # the transfer's rows and a document with that number
    assert reasons("transfer:TR-1") == ["transfer_in", "transfer_in_transit", "transfer_out"]
    assert reasons(reservation["id"]) == ["reserve"]
    assert reasons(f"reservation:{reservation['id']}") == ["reserve"]
    export = api.get(
        "/api/v1/ledger/export/", {"reference": "TR-1"}, headers={"Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert sorted(row["reason"] for row in rows) == moved


def test_api_writes_record_their_key_as_the_actor(api, merchant, product, location, owner):
    from django.urls import reverse

    from apps.apikeys.models import ApiKey
    from apps.inventory.models import BucketLedgerEntry
    from tests.admin_helpers import Role, logged_in, staff

    key = ApiKey.objects.get(merchant=merchant, name="tests")
    ApiKey.objects.filter(pk=key.pk).update(name="Shop backend")  # the name as it is at write
    api.post_stock("/api/v1/stock/receipts/", {"sku": product.sku, "location": location.code,
                                               "quantity": 8})  # fmt: skip
    api.patch(f"/api/v1/stock/{product.sku}/{location.code}/", {"bucket_count": 2},
              format="json", headers={"Idempotency-Key": "buckets-on"})  # fmt: skip
    api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 1}]})  # fmt: skip
    api.post_stock("/api/v1/events/", {"events": [{
        "source": "pos-1", "event_id": "s-1", "type": "sale", "sku": product.sku,
        "location": location.code, "quantity": 1, "sequence": 1}]})  # fmt: skip
    api.post_stock("/api/v1/bulk/stock/", {"mode": "adjust", "atomic": True, "reason": "Found",
                                           "lines": [{"sku": product.sku,
                                                      "location": location.code, "delta": 2}]})  # fmt: skip
    ApiKey.objects.filter(pk=key.pk).update(name="Renamed since")

    entries = LedgerEntry.objects.filter(merchant=merchant)
    assert {e.reason for e in entries} >= {"receive", "configure", "bucket_fill", "sale", "adjust"}
    assert {(e.actor_id, e.actor_api_key_id, e.actor_api_key_name) for e in entries} == {
        (None, key.pk, "Shop backend")
    }
    buckets = BucketLedgerEntry.objects.filter(merchant=merchant)
    assert {b.reason for b in buckets} >= {"bucket_fill", "reserve"}
    assert {(b.actor_api_key_id, b.actor_api_key_name) for b in buckets} == {
        (key.pk, "Shop backend")
    }
    rows = api.get("/api/v1/ledger/").json()["results"]
    assert {(r["actor"], r["api_key"]["id"], r["api_key"]["name"]) for r in rows} == {
        (None, key.pk, "Shop backend")
    }
    export = api.get("/api/v1/ledger/export/", headers={"Accept": "text/csv"})
    lines = list(
        csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig")))
    )
    assert {(r["api_key_id"], r["api_key_name"]) for r in lines} == {(str(key.pk), "Shop backend")}

    # A signed-in person is the actor of their writes; no key is recorded then.
    session = APIClient()
    session.force_login(owner)
    session.post("/api/v1/stock/receipts/", {"sku": product.sku, "location": location.code,
                 "quantity": 1}, format="json", headers={"Idempotency-Key": "by-hand"})  # fmt: skip
    by_hand = LedgerEntry.objects.get(idempotency_key="by-hand")
    assert (by_hand.actor_id, by_hand.actor_api_key_id, by_hand.actor_api_key_name) == (
        owner.pk, None, "",
    )  # fmt: skip

    logged_in(client := Client(), staff(merchant, Role.VIEWER))
    page = client.get(reverse("admin:inventory_ledgerentry_changelist")).content.decode()
    assert "API key Shop backend" in page
    assert owner.username in page
