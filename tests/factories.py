"""Plain factory functions for test data. Stock is always created through the services."""

from __future__ import annotations

import itertools
import uuid

from apps.accounts.models import User
from apps.catalog.models import Product
from apps.inventory import services
from apps.inventory.models import StockLevel
from apps.locations.models import Location
from apps.merchants.models import Membership, Merchant

_seq = itertools.count(1)


def key() -> str:
    return f"test-{uuid.uuid4()}"


def merchant(**kwargs) -> Merchant:
    n = next(_seq)
    kwargs.setdefault("code", f"merchant-{n}")
    kwargs.setdefault("name", f"Merchant {n}")
    return Merchant.objects.create(**kwargs)


def product(merchant: Merchant, **kwargs) -> Product:
    n = next(_seq)
    kwargs.setdefault("sku", f"SKU-{n}")
    kwargs.setdefault("name", f"Product {n}")
    return Product.objects.create(merchant=merchant, **kwargs)


def location(merchant: Merchant, **kwargs) -> Location:
    n = next(_seq)
    kwargs.setdefault("code", f"loc-{n}")
    kwargs.setdefault("name", f"Location {n}")
    return Location.objects.create(merchant=merchant, **kwargs)


def user(merchant: Merchant | None = None, role: str = Membership.Role.OWNER, **kwargs) -> User:
    n = next(_seq)
    kwargs.setdefault("username", f"user-{n}")
    account = User.objects.create_user(password="pw-for-tests-1", **kwargs)
    if merchant is not None:
        Membership.objects.create(user=account, merchant=merchant, role=role)
    return account


def stock(product: Product, location: Location, on_hand: int, **settings: int | None) -> StockLevel:
    """A stock level holding `on_hand` units, received through the service (with a ledger row)."""
    merchant = product.merchant
    if on_hand:
        services.stock_receive(
            merchant=merchant,
            lines=[services.StockLine(product=product, location=location, quantity=on_hand)],
            actor=None,
            idempotency_key=key(),
        )
    if settings or not on_hand:
        services.stock_level_configure(
            merchant=merchant, product=product, location=location, actor=None, idempotency_key=key(),
            **(settings or {"safety_stock": 0}),
        )  # fmt: skip
    return StockLevel.objects.get(product=product, location=location)
