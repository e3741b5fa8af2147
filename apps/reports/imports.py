"""Reading and validating import files (CSV or XLSX) into normalised rows and row errors.
Nothing here writes: `apps.reports.services` stores the preview and applies confirmed rows."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from apps.catalog.models import Product
from apps.inventory.models import MAX_QUANTITY, StockLevel
from apps.locations.models import Location

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
PRODUCT_COLUMNS = ("sku", "name", "price", "description", "barcode", "unit", "is_active")
COUNT_COLUMNS = ("sku", "location", "counted")
REQUIRED = {"products": ("sku", "name"), "counts": COUNT_COLUMNS}
TRUE, FALSE = {"1", "true", "yes", "y", "active"}, {"0", "false", "no", "n", "inactive"}


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, header, size)."""


@dataclass
class Parsed:
    rows: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {"row": n, "message": ...}
    total: int = 0

    def error(self, row: int, message: str) -> None:
        self.errors.append({"row": row, "message": message})


def _sentence(problems: list[str]) -> str:
    text = "; ".join(problems)
    return text[:1].upper() + text[1:] + "."


def read_table(filename: str, content: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, {column: text}) for each data row. The first
    row is the header; column names are matched case-insensitively."""
    if len(content) > MAX_FILE_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if filename.lower().endswith(".xlsx"):
        records = _xlsx_records(content)
    elif filename.lower().endswith((".csv", ".txt")):
        records = _csv_records(content)
    else:
        raise ImportFileError("Upload a .csv or .xlsx file.")
    header = next(records, None)
    if not header:
        raise ImportFileError("The file is empty.")
    names = [str(cell or "").strip().lower() for cell in header]
    for number, record in enumerate(records, start=2):
        cells = ["" if cell is None else str(cell).strip() for cell in record]
        if not any(cells):
            continue
        yield number, dict(zip(names, cells, strict=False))


def _csv_records(content: bytes) -> Iterator[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError("The CSV file is not UTF-8 text.") from error
    dialect = csv.excel
    with contextlib.suppress(csv.Error):
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    yield from csv.reader(io.StringIO(text), dialect)


def _xlsx_records(content: bytes) -> Iterator[tuple]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise ImportFileError("The XLSX file cannot be read.") from error
    try:
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    finally:
        workbook.close()


def _check_header(first: dict[str, str] | None, kind: str) -> None:
    if first is None:
        raise ImportFileError("The file has a header but no rows.")
    missing = [name for name in REQUIRED[kind] if name not in first]
    if missing:
        raise ImportFileError(f"Missing column(s): {', '.join(missing)}.")


def _quantity(text: str) -> int | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if value != value.to_integral_value() or not 0 <= value <= MAX_QUANTITY:
        return None
    return int(value)


def parse_products(filename: str, content: bytes, merchant_id: int) -> Parsed:
    """Rows {sku, name, price, description, barcode, unit, is_active, exists}."""
    parsed = Parsed()
    existing = set(Product.objects.filter(merchant_id=merchant_id).values_list("sku", flat=True))
    units = set(Product.Unit.values)
    seen: dict[str, int] = {}
    first = True
    for number, cells in read_table(filename, content):
        if first:
            _check_header(cells, "products")
            first = False
        parsed.total += 1
        if parsed.total > MAX_ROWS:
            raise ImportFileError(f"At most {MAX_ROWS:,} rows per file.")
        sku, name = cells.get("sku", ""), cells.get("name", "")
        problems = []
        if not sku:
            problems.append("SKU is empty")
        elif len(sku) > 64:
            problems.append("SKU is longer than 64 characters")
        elif sku in seen:
            problems.append(f"SKU {sku} already appears on row {seen[sku]}")
        if not name:
            problems.append("name is empty")
        price = Decimal("0.00")
        if cells.get("price"):
            try:
                price = Decimal(cells["price"]).quantize(Decimal("0.01"))
                if price < 0 or price >= Decimal("10000000000"):
                    problems.append(f"price {cells['price']} is out of range")
            except InvalidOperation:
                problems.append(f"price {cells['price']!r} is not a number")
        unit = (cells.get("unit") or Product.Unit.EACH).lower()
        if unit not in units:
            problems.append(f"unit {unit!r} is not one of {', '.join(sorted(units))}")
        active_text = (cells.get("is_active") or "true").lower()
        if active_text not in TRUE | FALSE:
            problems.append(f"is_active {active_text!r} is not yes or no")
        if problems:
            parsed.error(number, _sentence(problems))
            continue
        seen[sku] = number
        parsed.rows.append(
            {
                "row": number, "sku": sku, "name": name[:200], "price": str(price),
                "description": cells.get("description", ""), "barcode": cells.get("barcode", "")[:64],
                "unit": unit, "is_active": active_text in TRUE, "exists": sku in existing,
            }
        )  # fmt: skip
    if first:
        _check_header(None, "products")
    return parsed


def parse_counts(
    filename: str, content: bytes, merchant_id: int, location_ids: set[int] | None
) -> Parsed:
    """Rows {sku, location, product_id, location_id, counted, on_hand, reserved}: the system
    figures are those at preview time. `location_ids`: where the uploader may count (None:
    every location of the merchant)."""
    parsed = Parsed()
    products = dict(Product.objects.filter(merchant_id=merchant_id).values_list("sku", "id"))
    locations = dict(Location.objects.filter(merchant_id=merchant_id).values_list("code", "id"))
    wanted: list[tuple[int, dict]] = []
    seen: dict[tuple[int, int], int] = {}
    first = True
    for number, cells in read_table(filename, content):
        if first:
            _check_header(cells, "counts")
            first = False
        parsed.total += 1
        if parsed.total > MAX_ROWS:
            raise ImportFileError(f"At most {MAX_ROWS:,} rows per file.")
        sku, code, counted_text = (
            cells.get("sku", ""),
            cells.get("location", ""),
            cells.get("counted", ""),
        )
        problems = []
        product_id, location_id = products.get(sku), locations.get(code)
        if product_id is None:
            problems.append(f"unknown SKU {sku!r}")
        if location_id is None:
            problems.append(f"unknown location {code!r}")
        elif location_ids is not None and location_id not in location_ids:
            problems.append(f"you do not manage location {code}")
        counted = _quantity(counted_text)
        if counted is None:
            problems.append(f"counted {counted_text!r} is not a whole number from 0")
        if not problems and (product_id, location_id) in seen:
            problems.append(
                f"{sku} at {code} already appears on row {seen[(product_id, location_id)]}"
            )
        if problems:
            parsed.error(number, _sentence(problems))
            continue
        seen[(product_id, location_id)] = number
        wanted.append(
            (number, {"sku": sku, "location": code, "product_id": product_id,
                      "location_id": location_id, "counted": counted})
        )  # fmt: skip
    if first:
        _check_header(None, "counts")
    _with_system_figures(parsed, wanted, merchant_id)
    return parsed


def _with_system_figures(parsed: Parsed, wanted: list[tuple[int, dict]], merchant_id: int):
    """Adds on hand and reserved at preview time; a count below the reserved units would be
    refused, so it is a row error now."""
    figures = {
        (p, loc): (on_hand, reserved)
        for p, loc, on_hand, reserved in StockLevel.objects.with_buckets()
        .filter(
            merchant_id=merchant_id,
            product_id__in={row["product_id"] for _, row in wanted},
        )
        .values_list("product_id", "location_id", "on_hand", "held_units")
    }
    for number, row in wanted:
        on_hand, reserved = figures.get((row["product_id"], row["location_id"]), (0, 0))
        if row["counted"] < reserved:
            parsed.error(
                number,
                f"{row['sku']} at {row['location']}: counted {row['counted']} but {reserved} "
                "units are reserved.",
            )
            continue
        parsed.rows.append({"row": number, **row, "on_hand": on_hand, "reserved": reserved})
    parsed.errors.sort(key=lambda error: error["row"])
