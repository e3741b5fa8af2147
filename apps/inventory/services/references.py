"""Stock's say in changes to the reference data, connected to the catalog's and the locations'
hooks in InventoryConfig.ready(): a product or location that holds stock, active reservations,
open transfers or stock history cannot be deleted (deactivate it instead: its history stays
auditable), and a changed product's or location's cached availability is dropped."""

from __future__ import annotations

from django.db.models import Q

from apps.catalog.models import Product
from apps.core.errors import InvalidState
from apps.inventory import availability_cache
from apps.inventory.models import LedgerEntry, Reservation, ReservationLine, StockLevel, Transfer
from apps.locations.models import Location
from apps.merchants.models import Merchant

HOLDS_STOCK = Q(on_hand__gt=0) | Q(reserved__gt=0) | Q(damaged__gt=0) | Q(in_transit__gt=0)


def product_availability_forget(*, product: Product) -> None:
    """After a product changes (deactivating it changes what it can serve)."""
    availability_cache.invalidate_after_commit([product.pk])


def location_availability_forget(*, location: Location) -> None:
    """After a location changes (its status, code and priority are part of every availability
    answer at its merchant)."""
    availability_cache.invalidate_after_commit(merchant_ids=[location.merchant_id])


def substitutes_availability_forget(*, merchant: Merchant) -> None:
    """After a merchant's substitution groups change (what stands in for a SKU is part of its
    availability answer)."""
    availability_cache.invalidate_after_commit(merchant_ids=[merchant.pk])


def product_levels_delete(*, product: Product) -> None:
    """Before a product is deleted: refuse while it has stock, active reservations or stock
    history; otherwise delete its (empty) stock levels."""
    levels = StockLevel.objects.filter(product=product)
    if levels.filter(HOLDS_STOCK).exists():
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


def location_levels_delete(*, location: Location) -> None:
    """Before a location is deleted: refuse while it has stock, active reservations, open
    transfers or stock history; otherwise delete its (empty) stock levels."""
    if StockLevel.objects.filter(location=location).filter(HOLDS_STOCK).exists():
        raise InvalidState(
            f"Location {location.code} still holds stock. Move or count it to zero, or set the "
            "location's status to inactive instead.",
            status="stocked",
        )
    if ReservationLine.objects.filter(
        location=location, reservation__status=Reservation.Status.ACTIVE
    ).exists():
        raise InvalidState(f"Location {location.code} has active reservations.", status="reserved")
    if (
        Transfer.objects.filter(Q(source_location=location) | Q(destination_location=location))
        .exclude(status__in=[Transfer.Status.RECEIVED, Transfer.Status.CANCELLED])
        .exists()
    ):
        raise InvalidState(f"Location {location.code} has open transfers.", status="in_transfer")
    if (
        LedgerEntry.objects.filter(location=location).exists()
        or Transfer.objects.filter(
            Q(source_location=location) | Q(destination_location=location)
        ).exists()
    ):
        raise InvalidState(
            f"Location {location.code} has stock history, which must stay auditable. Set its "
            "status to inactive instead.",
            status="has_history",
        )
    StockLevel.objects.filter(location=location).delete()
