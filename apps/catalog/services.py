"""Product writes. Products carry no quantities; stock lives in apps.inventory."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q

from apps.catalog.models import Product
from apps.core.unique_save import save_unique
from apps.inventory import availability_cache
from apps.inventory.exceptions import InvalidRequest, InvalidState
from apps.inventory.models import LedgerEntry, Reservation, ReservationLine, StockLevel
from apps.merchants.models import Merchant

PRODUCT_FIELDS = ("sku", "name", "description", "price", "barcode", "unit", "is_active")


@transaction.atomic
def product_create(*, merchant: Merchant, **fields: Any) -> Product:
    """Create a product; a SKU already used by this merchant is refused on the `sku` field."""
    product = Product(merchant=merchant, **_known(fields))
    save_unique(product, field="sku", message=f"A product with SKU {product.sku} already exists.")
    return product


@transaction.atomic
def product_update(*, product: Product, **fields: Any) -> Product:
    changes = _known(fields)
    for name, value in changes.items():
        setattr(product, name, value)
    save_unique(
        product,
        field="sku",
        message=f"A product with SKU {product.sku} already exists.",
        update_fields=[*changes, "updated_at"],
    )
    # Deactivating a product changes what it can serve.
    availability_cache.invalidate_after_commit([product.pk])
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Delete a product that never held stock. A product with stock, active reservations or any
    stock history is refused (409): deactivate it instead, its history stays auditable."""
    levels = StockLevel.objects.filter(product=product)
    if levels.filter(
        Q(on_hand__gt=0) | Q(reserved__gt=0) | Q(damaged__gt=0) | Q(in_transit__gt=0)
    ).exists():
        raise InvalidState(
            f"Product {product.sku} still has stock. Ship, adjust or count it to zero, or "
            "deactivate the product instead (PATCH active=false).",
            status="stocked",
        )
    if ReservationLine.objects.filter(
        product=product, reservation__status=Reservation.Status.ACTIVE
    ).exists():
        raise InvalidState(
            f"Product {product.sku} has active reservations. Commit or release them, or "
            "deactivate the product instead.",
            status="reserved",
        )
    if LedgerEntry.objects.filter(product=product).exists():
        raise InvalidState(
            f"Product {product.sku} has stock history, which must stay auditable. Deactivate "
            "it instead (PATCH active=false).",
            status="has_history",
        )
    levels.delete()
    product.delete()


def _known(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(PRODUCT_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    return fields
