"""Where an unlocated reservation line is served from: the order of the candidate locations."""

from __future__ import annotations

import math

from apps.locations.models import Location


def distance_km(location: Location, near: tuple[float, float]) -> float:
    """Great-circle distance from `near` (latitude, longitude); infinite without coordinates."""
    if location.latitude is None or location.longitude is None:
        return math.inf
    lat1, lon1 = math.radians(float(location.latitude)), math.radians(float(location.longitude))
    lat2, lon2 = math.radians(near[0]), math.radians(near[1])
    a = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def serving_order(locations: list[Location], near: tuple[float, float] | None) -> list[Location]:
    """By fulfilment priority (then code), or nearest first when the caller gives coordinates."""
    ordered = sorted(locations, key=lambda place: (place.priority, place.code))
    if near is not None:
        ordered.sort(key=lambda place: (distance_km(place, near), place.priority))
    return ordered
