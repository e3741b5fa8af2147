"""A transfer's carrier, tracking number and cost: set when it is created or shipped, in the
API (with filters), the admin (form, list filter, search) and the CSV export."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.core.errors import InvalidRequest
from apps.inventory import services
from apps.inventory.models import Transfer
from apps.inventory.services import Shipping, TransferLineRequest
from tests import factories
from tests.admin_helpers import Role, idempotency_key, logged_in, staff
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def test_shipping_details_are_set_at_creation_and_completed_at_shipping(
    merchant, product, location, other_location
):
    factories.stock(product, location, 10)
    api = client_for(merchant)
    created = api.post_stock(
        "/api/v1/transfers/",
        {"source": location.code, "destination": other_location.code,
         "lines": [{"sku": product.sku, "quantity": 2}], "carrier": "DHL"},
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["carrier"], body["tracking_number"], body["shipping_cost"]) == ("DHL", "", None)
    shipped = api.post_stock(
        f"/api/v1/transfers/{body['id']}/ship/",
        {"tracking_number": "JD0123", "shipping_cost": "14.90"},
    )
    assert shipped.status_code == 200, shipped.json()
    assert {k: shipped.json()[k] for k in ("status", "carrier", "tracking_number", "shipping_cost")} == {
        "status": "in_transit", "carrier": "DHL", "tracking_number": "JD0123",
        "shipping_cost": "14.90",
    }  # fmt: skip
    transfer = Transfer.objects.get(pk=body["id"])
    assert transfer.shipping_cost == Decimal("14.90")

    listed = api.get("/api/v1/transfers/", {"tracking_number": "JD0123"}).json()["results"]
    assert [t["id"] for t in listed] == [body["id"]]
    assert api.get("/api/v1/transfers/", {"carrier": "UPS"}).json()["results"] == []


def test_ship_replay_with_other_shipping_details_is_refused(
    merchant, product, location, other_location
):
    factories.stock(product, location, 10)
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[TransferLineRequest(product, 1)], actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    api = client_for(merchant)
    path = f"/api/v1/transfers/{transfer.pk}/ship/"
    assert api.post_stock(path, {"tracking_number": "A1"}, key="ship-1").status_code == 200
    replay = api.post_stock(path, {"tracking_number": "A1"}, key="ship-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert_problem(
        api.post_stock(path, {"tracking_number": "B2"}, key="ship-1"), 422, "idempotency_key_reused"
    )


def test_bad_shipping_details_are_refused(merchant, product, location, other_location):
    api = client_for(merchant)
    response = api.post_stock(
        "/api/v1/transfers/",
        {"source": location.code, "destination": other_location.code,
         "lines": [{"sku": product.sku, "quantity": 1}], "shipping_cost": "-3"},
    )  # fmt: skip
    assert "shipping_cost" in assert_problem(response, 400, "invalid_request")["fields"]
    with pytest.raises(InvalidRequest):
        services.transfer_create(
            merchant=merchant, source_location=location, destination_location=other_location,
            lines=[TransferLineRequest(product, 1)], actor=None, idempotency_key=factories.key(),
            shipping=Shipping(carrier="x" * 101),
        )  # fmt: skip
    assert not Transfer.objects.exists()


def test_admin_creates_filters_searches_and_exports_shipping(
    client, merchant, product, location, other_location
):
    factories.stock(product, location, 10)
    logged_in(client, staff(merchant, Role.OWNER))
    add = reverse("admin:inventory_transfer_add")
    form = client.get(add)
    response = client.post(
        add,
        {"source_location": location.pk, "destination_location": other_location.pk,
         "reference": "TR-9", "note": "", "carrier": "UPS", "tracking_number": "1Z999",
         "shipping_cost": "7.50", "idempotency_key": idempotency_key(form),
         "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-0-sku": product.sku,
         "lines-0-quantity": "3"},
    )  # fmt: skip
    assert response.status_code == 302
    transfer = Transfer.objects.get(reference="TR-9")
    assert (transfer.carrier, transfer.tracking_number, transfer.shipping_cost) == (
        "UPS", "1Z999", Decimal("7.50"),
    )  # fmt: skip
    changelist = reverse("admin:inventory_transfer_changelist")
    assert list(client.get(changelist, {"carrier": "UPS"}).context["cl"].result_list) == [transfer]
    assert list(client.get(changelist, {"q": "1Z999"}).context["cl"].result_list) == [transfer]
    exported = client.get(reverse("admin:inventory_transfer_export"), {"carrier": "UPS"})
    lines = b"".join(exported.streaming_content).decode().lstrip("\ufeff").splitlines()
    header = lines[0].split(",")
    row = dict(zip(header, lines[1].split(","), strict=True))
    assert (row["carrier"], row["tracking_number"], row["shipping_cost"]) == (
        "UPS",
        "1Z999",
        "7.50",
    )
