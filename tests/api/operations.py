"""The API's operations, read from its own OpenAPI schema, with concrete paths over seeded data.

Tests of a property that every write must have parametrize over `WRITES` instead of a
hand-written list, so an endpoint added later is covered without anyone remembering to."""

from __future__ import annotations

import re

from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from apps.alerts.models import Alert
from apps.alerts.services import alert_raise
from apps.api.schema import PATH_EXAMPLES
from apps.catalog.services import MemberRequest, substitution_group_create
from apps.feeds.models import QueuedFeedBatch
from apps.inventory import services
from apps.merchants.models import Merchant
from tests import factories

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
WRITE_METHODS = ("post", "put", "patch", "delete")


def operations(methods: tuple[str, ...]) -> list[tuple[str, str]]:
    """(METHOD, path template) of every documented operation with one of `methods`."""
    return sorted(
        (method.upper(), path)
        for path, documented in SCHEMA["paths"].items()
        for method in documented
        if method in methods
    )


WRITES = operations(WRITE_METHODS)
READS = operations(("get",))


def seed(merchant: Merchant) -> dict[str, str]:
    """Objects for every path parameter of the schema (the path examples' SKU and location,
    stocked; an active reservation; a draft transfer; an alert), as {parameter: value}."""
    product = factories.product(merchant, sku=PATH_EXAMPLES["sku"])
    location = factories.location(merchant, code=PATH_EXAMPLES["location"])
    store = factories.location(merchant, code="empty-store")
    level = factories.stock(product, location, 50)
    reservation = services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, quantity=1, location=location)],
        actor=None,
        idempotency_key=factories.key(),
    )
    transfer = services.transfer_create(
        merchant=merchant,
        source_location=location,
        destination_location=store,
        lines=[services.TransferLineRequest(product=product, quantity=1)],
        actor=None,
        idempotency_key=factories.key(),
    )
    alert = alert_raise(
        merchant_id=merchant.pk,
        kind=Alert.Kind.WEBHOOK_DISABLED,
        subject=f"webhook_disabled:seed-{merchant.pk}",
        message="Webhook endpoint seed was disabled",
    )
    # `code` names the location and a substitution group; two spare products for a new group.
    substitution_group_create(
        merchant=merchant, code=location.code, name="Packs",
        members=[MemberRequest(product, 1), MemberRequest(factories.product(merchant), 2)],
    )  # fmt: skip
    for spare in ("SPARE-1", "SPARE-2"):
        factories.product(merchant, sku=spare)
    batch = QueuedFeedBatch.objects.create(
        id="1700000000000-0", merchant=merchant, received_at=timezone.now(),
        applied_at=timezone.now(),
    )  # fmt: skip
    return {
        "sku": product.sku,
        "location": location.code,
        "code": location.code,
        "reservation_id": str(reservation.pk),
        "transfer_id": str(transfer.pk),
        "product_id": product.sku,
        "warehouse_id": location.code,
        "inventory_id": str(level.pk),
        "alert_id": str(alert.pk),
        "batch_id": batch.pk,
    }


def concrete(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda match: values[match.group(1)], path)


def operation_id(operation: tuple[str, str]) -> str:
    return f"{operation[0]} {operation[1]}"
