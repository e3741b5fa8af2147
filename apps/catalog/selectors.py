"""Product reads, always scoped to one merchant."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch, Q, QuerySet

from apps.catalog.models import Product, SubstitutionGroup, SubstitutionMember
from apps.core.errors import ObjectNotFound
from apps.merchants.models import Merchant


def product_list(
    *,
    merchant: Merchant,
    search: str = "",
    active: bool | None = None,
    category: str = "",
    brand: str = "",
) -> QuerySet[Product]:
    products = Product.objects.filter(merchant=merchant).order_by("sku")
    if category:
        products = products.filter(category=category)
    if brand:
        products = products.filter(brand=brand)
    if search:
        products = products.filter(
            Q(sku__icontains=search) | Q(name__icontains=search) | Q(barcode=search)
        )
    if active is not None:
        products = products.filter(is_active=active)
    return products


def product_get(*, merchant: Merchant, sku: str) -> Product:
    product = Product.objects.filter(merchant=merchant, sku=sku).first()
    if product is None:
        raise ObjectNotFound(f"Product {sku} not found.", sku=sku)
    return product


def products_by_sku(*, merchant: Merchant, skus: Iterable[str]) -> dict[str, Product]:
    """One query for many SKUs; unknown SKUs are simply absent."""
    wanted = set(skus)
    if not wanted:
        return {}
    return {p.sku: p for p in Product.objects.filter(merchant=merchant, sku__in=wanted)}


def substitution_group_list(*, merchant: Merchant) -> QuerySet[SubstitutionGroup]:
    members = SubstitutionMember.objects.select_related("product").order_by(
        "priority", "product__sku"
    )
    return (
        SubstitutionGroup.objects.filter(merchant=merchant)
        .prefetch_related(Prefetch("members", queryset=members))
        .order_by("code")
    )


def substitution_group_get(*, merchant: Merchant, code: str) -> SubstitutionGroup:
    group = substitution_group_list(merchant=merchant).filter(code=code).first()
    if group is None:
        raise ObjectNotFound(f"Substitution group {code} not found.", group=code)
    return group
