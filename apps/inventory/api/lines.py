"""Turn request lines (SKU and location codes) into the objects the services take, with one
query per kind of object, scoped to the request's merchant: another merchant's codes simply
do not exist."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request

from apps.catalog.models import Product
from apps.catalog.selectors import products_by_sku
from apps.inventory.models import MAX_QUANTITY, LedgerEntry
from apps.locations.models import Location
from apps.locations.selectors import locations_by_code
from apps.merchants.models import Merchant


def _path(prefix: str, index: int | None, name: str) -> str:
    return name if index is None else f"{prefix}.{index}.{name}"


def resolve(
    merchant: Merchant,
    lines: Sequence[dict[str, Any]],
    *,
    prefix: str = "lines",
    single: bool = False,
    location_fields: Iterable[str] = ("location",),
) -> tuple[dict[str, Product], dict[str, Location]]:
    """Products by SKU and locations by code for every line, or a 400 naming each unknown
    one (`lines.3.sku`, or `sku` for a single change)."""
    products, locations, unknown = resolve_known(merchant, lines, location_fields=location_fields)
    errors = {
        _path(prefix, None if single else index, name): [message]
        for index, fields in unknown.items()
        for name, message in fields.items()
    }
    if errors:
        raise exceptions.ValidationError(errors)
    return products, locations


def resolve_known(
    merchant: Merchant,
    lines: Sequence[dict[str, Any]],
    *,
    location_fields: Iterable[str] = ("location",),
) -> tuple[dict[str, Product], dict[str, Location], dict[int, dict[str, str]]]:
    """Products by SKU and locations by code, and for each line naming an unknown one its
    index -> {field: message} (for requests that give every line its own outcome)."""
    location_fields = tuple(location_fields)
    products = products_by_sku(merchant=merchant, skus=[line["sku"] for line in lines])
    codes = [line[f] for line in lines for f in location_fields if line.get(f)]
    locations = locations_by_code(merchant=merchant, codes=codes)
    unknown: dict[int, dict[str, str]] = {}
    for index, line in enumerate(lines):
        if line["sku"] not in products:
            unknown.setdefault(index, {})["sku"] = f"Unknown SKU {line['sku']}."
        for name in location_fields:
            code = line.get(name)
            if code and code not in locations:
                unknown.setdefault(index, {})[name] = f"Unknown location {code}."
    return products, locations, unknown


def if_match_version(request: Request) -> int | None:
    """The version in `If-Match: "<version>"` (weak or bare forms accepted), or None."""
    header = (request.headers.get("If-Match") or "").strip()
    if not header or header == "*":
        return None
    value = header.removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 18:
        raise exceptions.ValidationError(
            {"If-Match": ['Send the stock level version you read, e.g. If-Match: "7".']}
        )
    return int(value)


def etag(version: int) -> str:
    return f'"{version}"'


def level_after(entry: LedgerEntry, names: dict[tuple[int, int], tuple[str, str]]) -> dict:
    """A stock level's figures right after `entry`, from the entry's `*_after` columns."""
    sku, code = names.get((entry.product_id, entry.location_id), (None, None))
    if sku is None:
        sku, code = entry.product.sku, entry.location.code
    return {
        "sku": sku,
        "location": code,
        "ledger_id": entry.pk,
        "reason": entry.reason,
        "on_hand": entry.on_hand_after,
        "reserved": entry.reserved_after,
        "available": max(entry.on_hand_after - entry.reserved_after - entry.safety_stock_after, 0),
        "safety_stock": entry.safety_stock_after,
        "damaged": entry.damaged_after,
        "in_transit": entry.in_transit_after,
        "version": entry.version_after,
    }


def change_payload(
    entries: Sequence[LedgerEntry], names: dict[tuple[int, int], tuple[str, str]]
) -> dict[str, Any]:
    return {
        "ledger_ids": [entry.pk for entry in entries],
        "levels": [level_after(entry, names) for entry in entries],
    }


@dataclass(frozen=True)
class LocatedLine:
    """A reservation of one line at a named location, as `ReservationRequestSerializer` would
    validate it."""

    sku: str
    location: str
    quantity: int
    ttl_seconds: int | None
    order_ref: str


def one_located_line(data: Any) -> LocatedLine | None:
    """The reservation in `data` (a parsed request body) when it is one line at a named
    location in the plainest shape, which the serializer would take exactly as it is: only
    known fields, strings already trimmed and within their lengths, whole numbers in range.
    None for anything else, which the serializer validates (and explains). Checking that much
    by hand costs a fraction of building the serializer's fields (a test holds the two equal)."""
    if type(data) is not dict or not data.keys() <= _RESERVATION_FIELDS:
        return None
    lines = data.get("lines")
    if type(lines) is not list or len(lines) != 1:
        return None
    line = lines[0]
    if type(line) is not dict or line.keys() != _LINE_FIELDS:
        return None
    sku, location, quantity = line["sku"], line["location"], line["quantity"]
    ttl, order_ref = data.get("ttl_seconds"), data.get("order_ref", "")
    if not (_plain(sku, 64, blank=False) and _plain(location, 50, blank=False)):
        return None
    if not (_plain(order_ref, 200, blank=True) and _whole(quantity, MAX_QUANTITY)):
        return None
    if ttl is not None and not _whole(ttl, None):
        return None
    return LocatedLine(sku, location, quantity, ttl, order_ref)


_RESERVATION_FIELDS = frozenset({"lines", "ttl_seconds", "order_ref"})
_LINE_FIELDS = frozenset({"sku", "location", "quantity"})


def _plain(value: Any, max_length: int, *, blank: bool) -> bool:
    return (
        type(value) is str
        and (blank or value != "")
        and len(value) <= max_length
        and value == value.strip()
        and "\x00" not in value
        and not any("\ud800" <= char <= "\udfff" for char in value)
    )


def _whole(value: Any, maximum: int | None) -> bool:
    return type(value) is int and value >= 1 and (maximum is None or value <= maximum)
