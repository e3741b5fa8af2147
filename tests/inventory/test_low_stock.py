"""One definition of low stock everywhere: a threshold above 0 (0 turns it off) and available
(free bucket units included) at or below it. The API filter and field, the admin filter and
badge, the reports and the alerts must all agree on the same levels."""

import pytest
from django.urls import reverse

from apps.alerts import services as alerts
from apps.alerts.models import Alert
from apps.inventory import services
from apps.reports import selectors as reports
from apps.reports.selectors import ReportScope
from tests import factories
from tests.admin_helpers import Role, logged_in, staff
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def levels(merchant, location):
    """Products by SKU. Only LOW, LOW-AND-OUT and LOW-IN-BUCKETS are low."""
    made = {}
    for name, on_hand, settings in [
        ("out_without_threshold", 2, {"safety_stock": 2}),  # available 0, threshold 0: off
        ("low", 3, {"low_stock_threshold": 5}),
        ("low_and_out", 0, {"low_stock_threshold": 5}),
        ("low_in_buckets", 4, {"low_stock_threshold": 5}),
        ("plenty", 10, {"low_stock_threshold": 2}),
    ]:
        product = factories.product(merchant, sku=name.upper().replace("_", "-"))
        factories.stock(product, location, on_hand, **settings)
        made[product.sku] = product
    # Every available unit of this one sits free in its buckets (counted in `reserved`).
    services.stock_level_configure(
        merchant=merchant, product=made["LOW-IN-BUCKETS"], location=location, actor=None,
        idempotency_key=factories.key(), bucket_count=2,
    )  # fmt: skip
    return made


LOW = {"LOW", "LOW-AND-OUT", "LOW-IN-BUCKETS"}


def test_api_filter_and_field_agree(merchant, levels):
    api = client_for(merchant)
    rows = api.get("/api/v1/stock/").json()["results"]
    assert {row["sku"] for row in rows if row["low_stock"]} == LOW
    assert {row["sku"]: row["available"] for row in rows}["LOW-IN-BUCKETS"] == 4
    low = {row["sku"] for row in api.get("/api/v1/stock/?low_stock=true").json()["results"]}
    rest = {row["sku"] for row in api.get("/api/v1/stock/?low_stock=false").json()["results"]}
    assert (low, rest) == (LOW, set(levels) - LOW)


def test_admin_filter_and_badges_agree(client, merchant, levels):
    logged_in(client, staff(merchant, Role.VIEWER))
    changelist = reverse("admin:inventory_stocklevel_changelist")

    def skus(**query):
        return {lv.product.sku for lv in client.get(changelist, query).context["cl"].result_list}

    assert skus(stock="low") == LOW
    assert skus(stock="out") == {"OUT-WITHOUT-THRESHOLD", "LOW-AND-OUT"}
    assert skus(stock="ok") == {"PLENTY"}
    body = client.get(changelist).content.decode()
    assert (body.count("sr-badge-low"), body.count("sr-badge-out")) == (2, 2)


def test_reports_agree(merchant, levels, location):
    owner = staff(merchant, Role.OWNER)
    scope = ReportScope(owner)
    low = {row["product__sku"]: row["available_units"] for row in reports.low_stock(scope)}
    out = {row["product__sku"] for row in reports.out_of_stock(scope)}
    assert low == {"LOW": 3, "LOW-IN-BUCKETS": 4}  # low with some units left
    assert out == {"OUT-WITHOUT-THRESHOLD", "LOW-AND-OUT"}
    [row] = reports.stock_by_location(scope)
    assert (row["low"], row["out"], row["available"]) == (2, 2, 3 + 4 + 10)


def test_alerts_agree(levels):
    alerts.low_stock_scan()
    alerted = set(Alert.objects.filter(kind="low_stock").values_list("product__sku", flat=True))
    assert alerted == LOW
