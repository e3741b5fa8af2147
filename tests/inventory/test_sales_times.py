"""Per level, the last time stock was received and sold: stamped by the engine's movement
statement (PostgreSQL and the SQLite variant alike), in the API with filters, in the admin with
a filter, and in the CSV export."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.inventory import services
from apps.inventory.models import StockLevel
from apps.inventory.services import ReservationLineRequest, StockLine, TransferLineRequest
from tests import factories
from tests.admin_helpers import Role, logged_in, staff
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def stamps(product, location) -> tuple:
    level = StockLevel.objects.get(product=product, location=location)
    return level.last_received_at, level.last_sold_at


def change(service, merchant, product, location, quantity, **kwargs):
    return service(
        merchant=merchant, lines=[StockLine(product, location, quantity)], actor=None,
        idempotency_key=factories.key(), **kwargs,
    )  # fmt: skip


def test_receipts_and_sales_stamp_the_level(merchant, product, location, other_location):
    before = timezone.now()
    change(services.stock_receive, merchant, product, location, 10)
    received, sold = stamps(product, location)
    assert received >= before
    assert sold is None

    # Neither a reservation, a release, an adjustment, a count nor damage is a receipt or a sale.
    reservation = services.reservation_create(
        merchant=merchant, lines=[ReservationLineRequest(product, 2, location)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    change(services.stock_adjust, merchant, product, location, 1, reason="found")
    change(services.stock_damage, merchant, product, location, 1)
    assert stamps(product, location) == (received, None)

    services.reservation_commit(
        merchant=merchant, reservation_id=reservation.pk, actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    received_then, committed = stamps(product, location)
    assert received_then == received
    assert committed > received

    change(services.stock_ship, merchant, product, location, 1)
    assert stamps(product, location)[1] > committed

    # A transfer's arrival is a receipt at the destination, its departure no sale at the source.
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[TransferLineRequest(product, 2)], actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    for step in (services.transfer_ship, services.transfer_receive):
        step(
            merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=factories.key()
        )
    arrived, never_sold = stamps(product, other_location)
    assert arrived > committed
    assert never_sold is None


def test_a_late_sale_never_moves_last_sold_backwards(merchant, product, location):
    change(services.stock_receive, merchant, product, location, 10)
    change(services.stock_ship, merchant, product, location, 1)
    _, latest = stamps(product, location)
    yesterday = timezone.now() - timedelta(days=1)
    change(services.stock_ship, merchant, product, location, 1, occurred_at=yesterday)
    assert stamps(product, location)[1] == latest

    other = factories.product(merchant)
    change(services.stock_receive, merchant, other, location, 5, occurred_at=yesterday)
    assert stamps(other, location)[0] == yesterday  # when it happened, not when it was told


def test_api_shows_and_filters_by_last_received_and_sold(merchant, location):
    slow, fast, empty = (factories.product(merchant, sku=sku) for sku in ("SLOW", "FAST", "NONE"))
    for product in (slow, fast):
        change(services.stock_receive, merchant, product, location, 5)
    change(services.stock_ship, merchant, fast, location, 1)
    factories.stock(empty, location, 0)
    StockLevel.objects.filter(product=slow).update(
        last_received_at=timezone.now() - timedelta(days=60)
    )
    api = client_for(merchant)
    level = api.get(f"/api/v1/stock/FAST/{location.code}/").json()
    assert level["last_sold_at"] is not None
    assert level["last_received_at"] is not None
    assert api.get(f"/api/v1/stock/SLOW/{location.code}/").json()["last_sold_at"] is None

    def skus(**params):
        return [row["sku"] for row in api.get("/api/v1/stock/", params).json()["results"]]

    an_hour_ago = (timezone.now() - timedelta(hours=1)).isoformat()
    assert skus(not_sold_since=an_hour_ago) == ["NONE", "SLOW"]
    assert skus(received_since=an_hour_ago) == ["FAST"]


def test_admin_filters_and_exports_last_sold(client, merchant, location):
    sold, unsold = (
        factories.product(merchant, sku="SOLD"),
        factories.product(merchant, sku="UNSOLD"),
    )
    for product in (sold, unsold):
        change(services.stock_receive, merchant, product, location, 5)
    change(services.stock_ship, merchant, sold, location, 2)
    logged_in(client, staff(merchant, Role.VIEWER))
    changelist = reverse("admin:inventory_stocklevel_changelist")
    recent = client.get(changelist, {"sold": "7d"}).context["cl"].result_list
    assert [level.product.sku for level in recent] == ["SOLD"]
    never = client.get(changelist, {"sold": "never"}).context["cl"].result_list
    assert [level.product.sku for level in never] == ["UNSOLD"]
    response = client.get(reverse("admin:inventory_stocklevel_export"), {"sold": "7d"})
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0].split(",")[-2:] == ["last_received_at", "last_sold_at"]
    assert all(lines[1].split(",")[-2:])
    assert len(lines) == 2
