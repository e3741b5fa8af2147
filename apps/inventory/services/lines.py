"""Validation and aggregation of the lines a service is called with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apps.catalog.models import Product
from apps.core.errors import InvalidRequest
from apps.inventory.models import MAX_QUANTITY
from apps.locations.models import Location
from apps.merchants.models import Merchant

MAX_LINES = 10_000


@dataclass(frozen=True)
class StockLine:
    """One requested change: `quantity` is units moved (a signed delta for adjustments, the
    counted quantity for counts). `expected_version` makes it a compare-and-set."""

    product: Product
    location: Location
    quantity: int
    expected_version: int | None = None


def check_quantity(
    quantity: object, *, allow_zero: bool = False, allow_negative: bool = False
) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidRequest("Quantity must be a whole number.", field="quantity")
    if quantity == 0 and not allow_zero:
        raise InvalidRequest("Quantity must not be zero.", field="quantity")
    if quantity < 0 and not allow_negative:
        raise InvalidRequest("Quantity must be positive.", field="quantity")
    if abs(quantity) > MAX_QUANTITY:
        raise InvalidRequest(f"Quantity must be at most {MAX_QUANTITY:,}.", field="quantity")
    return quantity


def check_owned(
    merchant: Merchant, *, product: Product | None = None, location: Location | None = None
) -> None:
    """Objects of another merchant are refused as if they did not exist."""
    if product is not None and product.merchant_id != merchant.pk:
        raise InvalidRequest(f"Unknown product {product.sku}.", field="sku")
    if location is not None and location.merchant_id != merchant.pk:
        raise InvalidRequest(f"Unknown location {location.code}.", field="location")


def aggregate_lines(
    merchant: Merchant,
    lines: Sequence[StockLine],
    *,
    allow_zero: bool = False,
    allow_negative: bool = False,
    sum_duplicates: bool = True,
) -> list[StockLine]:
    """Validate lines and merge those for the same stock level (summing quantities), so the
    availability check sees the whole request for each level."""
    if not lines:
        raise InvalidRequest("At least one line is required.", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidRequest(f"At most {MAX_LINES:,} lines per call.", field="lines")
    merged: dict[tuple[int, int], StockLine] = {}
    for line in lines:
        check_owned(merchant, product=line.product, location=line.location)
        check_quantity(line.quantity, allow_zero=allow_zero, allow_negative=allow_negative)
        key = (line.product.pk, line.location.pk)
        previous = merged.get(key)
        if previous is None:
            merged[key] = line
            continue
        if not sum_duplicates:
            raise InvalidRequest(
                f"{line.product.sku} at {line.location.code} appears twice in one request.",
                field="lines",
            )
        if previous.expected_version != line.expected_version:
            raise InvalidRequest(
                f"{line.product.sku} at {line.location.code}: conflicting expected versions.",
                field="expected_version",
            )
        merged[key] = StockLine(
            product=line.product,
            location=line.location,
            quantity=check_quantity(
                previous.quantity + line.quantity, allow_zero=True, allow_negative=allow_negative
            ),
            expected_version=line.expected_version,
        )
    return list(merged.values())


def fingerprint_lines(lines: Sequence[StockLine]) -> list[list[object]]:
    return sorted(
        [line.product.pk, line.location.pk, line.quantity, line.expected_version] for line in lines
    )
