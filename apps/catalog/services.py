"""Product writes. Products carry no quantities; stock lives in apps.inventory, which has its
say through the hooks below (connected in InventoryConfig.ready())."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from apps.catalog.models import Product
from apps.core.errors import InvalidRequest
from apps.core.hooks import Hook
from apps.core.unique_save import save_unique
from apps.merchants.models import Merchant

PRODUCT_FIELDS = ("sku", "name", "description", "price", "barcode", "unit", "is_active")
# Generated SKUs: the name's words in capitals and a random suffix of unambiguous characters
# (no 0/O, 1/I/L), e.g. WIRELESS-MOUSE-7K3QX9: 31**6 (close to a billion) suffixes per name,
# and a suffix drawn before is drawn again.
SKU_SUFFIX_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SKU_SUFFIX_LENGTH = 6
SKU_ATTEMPTS = 5
# Sent in the transaction of the change, with `product`. A receiver of `product_deleting`
# refuses the deletion by raising (e.g. while the product holds stock).
product_changed = Hook("product changed")
product_deleting = Hook("product deleting")


@transaction.atomic
def product_create(*, merchant: Merchant, **fields: Any) -> Product:
    """Create a product; a SKU already used by this merchant is refused on the `sku` field.
    Without a SKU, one is generated from the name (`sku_generate`), unique for the merchant."""
    fields = _known(fields)
    if fields.get("sku"):
        product = Product(merchant=merchant, **fields)
        save_unique(
            product, field="sku", message=f"A product with SKU {product.sku} already exists."
        )
        return product
    for _ in range(SKU_ATTEMPTS):
        name = fields.get("name", "")
        product = Product(merchant=merchant, **{**fields, "sku": sku_generate(name)})
        try:
            save_unique(product, field="sku", message="This SKU is taken.")
        except InvalidRequest:
            continue  # drawn before: draw again
        return product
    raise InvalidRequest("Could not draw an unused SKU; send one.", field="sku")


def sku_generate(name: str) -> str:
    """A new SKU for a product called `name`: its words in capitals (ASCII letters and digits,
    at most 40 characters; `SKU` when none are left) and a random suffix, e.g.
    `WIRELESS-MOUSE-7K3QX9`."""
    stem = slugify(name)[:40].strip("-").upper() or "SKU"
    suffix = "".join(secrets.choice(SKU_SUFFIX_ALPHABET) for _ in range(SKU_SUFFIX_LENGTH))
    return f"{stem}-{suffix}"


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
