"""Location reads, always scoped to one merchant."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from apps.core.errors import ObjectNotFound
from apps.locations.models import Location
from apps.merchants.models import Merchant


def location_list(
    *,
    merchant: Merchant,
    search: str = "",
    kind: str = "",
    status: str = "",
    city: str = "",
    country: str = "",
) -> QuerySet[Location]:
    locations = Location.objects.filter(merchant=merchant).order_by("priority", "code")
    if city:
        locations = locations.filter(city=city)
    if country:
        locations = locations.filter(country=country.upper())
    if search:
        locations = locations.filter(Q(code__icontains=search) | Q(name__icontains=search))
    if kind:
        locations = locations.filter(kind=kind)
    if status:
        locations = locations.filter(status=status)
    return locations


def location_get(*, merchant: Merchant, code: str, kind: str = "") -> Location:
    """The merchant's location `code` (of `kind`, when given), or ObjectNotFound."""
    location = Location.objects.filter(merchant=merchant, code=code).first()
    if location is None:
        raise ObjectNotFound(f"Location {code} not found.", location=code)
    if kind and location.kind != kind:
        raise ObjectNotFound(
            f"Location {code} is a {location.get_kind_display().lower()}, not a "
            f"{Location.Kind(kind).label.lower()}: see locations/{code}.",
            location=code,
        )
    return location


def locations_by_code(*, merchant: Merchant, codes: Iterable[str]) -> dict[str, Location]:
    """One query for many codes; unknown codes are simply absent."""
    wanted = set(codes)
    if not wanted:
        return {}
    return {loc.code: loc for loc in Location.objects.filter(merchant=merchant, code__in=wanted)}
