"""Product writes. Products carry no quantities; stock lives in apps.inventory, which has its
say through the hooks below (connected in InventoryConfig.ready())."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.catalog.models import Product
from apps.core.errors import InvalidRequest
from apps.core.hooks import Hook
from apps.core.unique_save import save_unique
from apps.merchants.models import Merchant

PRODUCT_FIELDS = ("sku", "name", "description", "price", "barcode", "unit", "is_active")
# Sent in the transaction of the change, with `product`. A receiver of `product_deleting`
# refuses the deletion by raising (e.g. while the product holds stock).
product_changed = Hook("product changed")
product_deleting = Hook("product deleting")


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
    product_changed.send(product=product)
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Delete a product that never held stock. A product with stock, active reservations or any
    stock history is refused (409, by the inventory's `product_deleting` receiver): deactivate
    it instead, its history stays auditable."""
    product_deleting.send(product=product)
    product.delete()


def _known(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(PRODUCT_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    return fields
