"""Role scoping: enforced in querysets, object URLs, forms and actions, not only by hiding
buttons."""

import pytest
from django.urls import reverse

from apps.inventory import services
from apps.inventory.models import LedgerEntry, StockLevel, Transfer
from tests import factories
from tests.admin_helpers import Role, idempotency_key, logged_in, messages_of, staff

pytestmark = pytest.mark.django_db

STOCK = reverse("admin:inventory_stocklevel_changelist")
RECEIVE = reverse("admin:inventory_stocklevel_receive")


@pytest.fixture
def site(merchant, product, location, other_location):
    """Stock at two locations (A = location, B = other_location) of one merchant."""
    return {
        "a": factories.stock(product, location, 10),
        "b": factories.stock(product, other_location, 20),
    }


def listed(client, url=STOCK, **params):
    return list(client.get(url, params).context["cl"].result_list)


def test_manager_of_a_sees_only_a(client, merchant, site, location, other_location):
    manager = staff(merchant, Role.MANAGER, locations=[location])
    logged_in(client, manager)
    assert listed(client) == [site["a"]]
    assert {
        e.location_id for e in listed(client, reverse("admin:inventory_ledgerentry_changelist"))
    } == {location.pk}
    assert listed(client, reverse("admin:locations_location_changelist")) == [location]


def test_manager_of_a_cannot_open_b_by_url(client, merchant, site, location, other_location):
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    for url in (
        reverse("admin:inventory_stocklevel_change", args=[site["b"].pk]),
        reverse("admin:locations_location_change", args=[other_location.pk]),
        reverse("admin:inventory_ledgerentry_change", args=[site["b"].ledger_entries.first().pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == reverse("admin:index")
    assert (
        client.get(reverse("admin:inventory_stocklevel_settings", args=[site["b"].pk])).status_code
        == 404
    )


def test_manager_of_a_cannot_change_b(client, merchant, product, site, location, other_location):
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    form = client.get(RECEIVE)
    assert f'value="{other_location.pk}"' not in form.content.decode()
    response = client.post(RECEIVE, {
        "location": other_location.pk, "sku": product.sku, "quantity": 5, "reference": "",
        "note": "", "idempotency_key": idempotency_key(form),
    })  # fmt: skip
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    count = reverse("admin:inventory_stocklevel_count")
    assert client.get(count, {"levels": site["b"].pk}).status_code == 403
    confirm = client.post(count, {
        "step": "confirm", "lines-TOTAL_FORMS": 1, "lines-INITIAL_FORMS": 1,
        "lines-0-level": site["b"].pk, "lines-0-counted": 0, "lines-0-expected_version": site["b"].version,
        "reference": "", "note": "", "idempotency_key": factories.key(),
    })  # fmt: skip
    assert confirm.status_code == 403
    assert StockLevel.objects.get(pk=site["b"].pk).on_hand == 20


def test_manager_cannot_ship_a_transfer_out_of_b(
    client, merchant, product, site, location, other_location
):
    transfer = services.transfer_create(
        merchant=merchant, source_location=other_location, destination_location=location,
        lines=[services.TransferLineRequest(product, 2)], actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    # Visible (it arrives at A) but only the source's manager ships it.
    response = client.post(
        reverse("admin:inventory_transfer_ship", args=[transfer.pk]), follow=True
    )
    assert "you do not manage" in response.content.decode()
    changelist = reverse("admin:inventory_transfer_changelist")
    client.post(changelist, {"action": "ship_selected", "_selected_action": [transfer.pk]})
    assert Transfer.objects.get(pk=transfer.pk).status == "draft"


def test_manager_without_locations_manages_every_location(
    client, merchant, product, site, other_location
):
    logged_in(client, staff(merchant, Role.MANAGER))
    assert len(listed(client)) == 2
    form = client.get(RECEIVE)
    response = client.post(RECEIVE, {
        "location": other_location.pk, "sku": product.sku, "quantity": 5, "reference": "",
        "note": "", "idempotency_key": idempotency_key(form),
    })  # fmt: skip
    assert response.status_code == 302
    assert StockLevel.objects.get(pk=site["b"].pk).on_hand == 25


def test_viewer_sees_everything_of_the_merchant_and_changes_nothing(
    client, merchant, product, site
):
    viewer = staff(merchant, Role.VIEWER)
    logged_in(client, viewer)
    assert len(listed(client)) == 2
    assert client.get(RECEIVE).status_code == 403
    assert client.post(RECEIVE, {"location": site["a"].location_id, "sku": product.sku,
                                 "quantity": 1, "idempotency_key": "k"}).status_code == 403  # fmt: skip
    page = client.get(reverse("admin:inventory_stocklevel_change", args=[site["a"].pk]))
    assert page.status_code == 200
    assert "Receive</a>" not in page.content.decode()
    assert client.get(reverse("admin:catalog_product_change", args=[product.pk])).status_code == 200
    assert (
        client.post(
            reverse("admin:catalog_product_change", args=[product.pk]), {"name": "x"}
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:catalog_product_add")).status_code == 403
    assert client.get(reverse("admin:inventory_transfer_add")).status_code == 403
    assert LedgerEntry.objects.filter(actor=viewer).count() == 0


def test_viewer_cannot_release_a_reservation(client, merchant, product, site, location):
    reservation = services.reservation_create(
        merchant=merchant, lines=[services.ReservationLineRequest(product, 2, location)],
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    logged_in(client, staff(merchant, Role.VIEWER))
    response = client.post(
        reverse("admin:inventory_reservation_release", args=[reservation.pk]), follow=True
    )
    assert "locations you do not manage" in response.content.decode()
    assert StockLevel.objects.get(pk=site["a"].pk).reserved == 2


def test_staff_of_another_merchant_never_sees_this_one(
    client, other_merchant, site, product, location
):
    logged_in(client, staff(other_merchant, Role.OWNER))
    assert listed(client) == []
    assert listed(client, reverse("admin:catalog_product_changelist")) == []
    response = client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert response.status_code == 302
    form = client.get(RECEIVE)
    assert f'value="{location.pk}"' not in form.content.decode()
    # Filters list only their own merchant and locations.
    body = client.get(STOCK).content.decode()
    assert f">{location.code} (" not in body
    assert f">{product.merchant.name}<" not in body


def test_staff_without_membership_sees_nothing(client, site):
    logged_in(client, staff(None))
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert not index.context["app_list"]
    assert client.get(STOCK).status_code == 403
    assert client.get(reverse("reports:overview")).status_code == 403


def test_owner_edits_the_catalog_manager_does_not(client, merchant, product):
    owner = staff(merchant, Role.OWNER)
    manager = staff(merchant, Role.MANAGER)
    url = reverse("admin:catalog_product_change", args=[product.pk])
    data = {"sku": product.sku, "name": "Renamed", "description": "", "price": "3.50",
            "unit": "each", "barcode": "", "is_active": "on"}  # fmt: skip
    logged_in(client, manager)
    assert client.post(url, data).status_code == 403
    logged_in(client, owner)
    assert client.post(url, data).status_code == 302
    product.refresh_from_db()
    assert (product.name, str(product.price)) == ("Renamed", "3.50")


def test_viewer_is_not_offered_stock_actions(client, merchant, site):
    logged_in(client, staff(merchant, Role.VIEWER))
    body = client.get(STOCK).content.decode()
    assert "count_selected" not in body
    assert "export_selected_csv" in body
    response = client.post(STOCK, {"action": "count_selected", "_selected_action": [site["a"].pk]})
    assert response.status_code == 302
    assert messages_of(response) == ["No action selected."]


def test_a_location_of_another_merchant_assigned_by_mistake_grants_nothing(
    client, merchant, other_merchant, site, location
):
    foreign = factories.location(other_merchant)
    factories.stock(factories.product(other_merchant), foreign, 5)
    manager = staff(merchant, Role.MANAGER, locations=[location, foreign])
    logged_in(client, manager)
    assert listed(client) == [site["a"]]
    assert listed(client, reverse("admin:locations_location_changelist")) == [location]
