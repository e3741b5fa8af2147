"""Product writes. Products carry no quantities; stock lives in apps.inventory, which has its
say through the hooks below (connected in InventoryConfig.ready())."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from apps.catalog.models import MAX_UNITS, Product, SubstitutionGroup, SubstitutionMember
from apps.core.errors import InvalidRequest
from apps.core.hooks import Hook
from apps.core.unique_save import save_unique
from apps.merchants.models import Merchant

PRODUCT_FIELDS = (
    "sku", "name", "description", "price", "barcode", "unit", "is_active", "category", "brand",
    "weight_kg", "length_cm", "width_cm", "height_cm",
)  # fmt: skip
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
# Sent in the transaction of a change to a merchant's substitution groups, with `merchant`
# (what stands in for a SKU is part of its availability answer).
substitutes_changed = Hook("substitutes changed")


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


@dataclass(frozen=True)
class MemberRequest:
    """A product of a substitution group: the base units one of it holds, and its turn."""

    product: Product
    units: int
    priority: int = 100


def _members(
    merchant: Merchant, members: Sequence[MemberRequest], group: SubstitutionGroup | None
) -> list[MemberRequest]:
    if len(members) < 2:
        raise InvalidRequest(
            "A substitution group needs at least two products (one stands in for another).",
            field="members",
        )
    seen: set[int] = set()
    for member in members:
        if member.product.merchant_id != merchant.pk:
            raise InvalidRequest(f"Unknown product {member.product.sku}.", field="members")
        if member.product.pk in seen:
            raise InvalidRequest(
                f"{member.product.sku} appears twice in the group.", field="members"
            )
        seen.add(member.product.pk)
        if isinstance(member.units, bool) or not isinstance(member.units, int):
            raise InvalidRequest("units must be a whole number.", field="members")
        if not 1 <= member.units <= MAX_UNITS:
            raise InvalidRequest(f"units must be from 1 to {MAX_UNITS:,}.", field="members")
    elsewhere = (
        SubstitutionMember.objects.filter(product_id__in=seen)
        .exclude(group=group)
        .select_related("product", "group")
        .order_by("product__sku")
        .first()
    )
    if elsewhere is not None:
        raise InvalidRequest(
            f"{elsewhere.product.sku} already belongs to substitution group "
            f"{elsewhere.group.code}; a product belongs to one group. Remove it there first.",
            field="members",
        )
    return list(members)


def _write_members(group: SubstitutionGroup, members: Sequence[MemberRequest]) -> None:
    try:
        with transaction.atomic():
            SubstitutionMember.objects.filter(group=group).delete()
            SubstitutionMember.objects.bulk_create(
                [
                    SubstitutionMember(
                        group=group, product=m.product, units=m.units, priority=m.priority
                    )
                    for m in members
                ]
            )
    except IntegrityError:
        # A concurrent call put one of these products in another group first.
        raise InvalidRequest(
            "A product of this group was just added to another substitution group; a product "
            "belongs to one group. Reload and try again.",
            field="members",
        ) from None


@transaction.atomic
def substitution_group_create(
    *, merchant: Merchant, code: str, name: str, members: Sequence[MemberRequest]
) -> SubstitutionGroup:
    """Create a group of products that stand in for one another. Each product belongs to at
    most one group; a group has at least two."""
    checked = _members(merchant, members, None)
    group = SubstitutionGroup(merchant=merchant, code=code, name=name)
    save_unique(
        group, field="code", message=f"A substitution group with code {code} already exists."
    )
    _write_members(group, checked)
    substitutes_changed.send(merchant=merchant)
    return group


@transaction.atomic
def substitution_group_update(
    *,
    group: SubstitutionGroup,
    name: str | None = None,
    members: Sequence[MemberRequest] | None = None,
) -> SubstitutionGroup:
    """Rename a group and/or replace its members (the whole list)."""
    if name is not None:
        group.name = name
        group.save(update_fields=["name", "updated_at"])
    if members is not None:
        _write_members(group, _members(group.merchant, members, group))
    substitutes_changed.send(merchant=group.merchant)
    return group


@transaction.atomic
def substitution_group_delete(*, group: SubstitutionGroup) -> None:
    """Delete a group: its products no longer stand in for one another. Reservations that took
    a substitute keep saying so (their lines name the product asked for)."""
    merchant = group.merchant
    group.delete()
    substitutes_changed.send(merchant=merchant)
