"""Product reads, always scoped to one merchant."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from apps.catalog.models import Product
from apps.core.errors import ObjectNotFound
from apps.merchants.models import Merchant


def product_list(
    *, merchant: Merchant, search: str = "", active: bool | None = None
) -> QuerySet[Product]:
    products = Product.objects.filter(merchant=merchant).order_by("sku")
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
