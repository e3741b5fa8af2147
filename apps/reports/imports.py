"""Reading and validating import files (CSV or XLSX) into normalised rows and row errors.
Nothing here writes: `apps.reports.services` stores the preview and applies confirmed rows.

Files come from users, so everything read is bounded before it costs anything: the upload's
size, what an XLSX (a zip archive) holds once uncompressed, the rows read (empty ones count),
the columns read per row and the characters per cell. A cell the database cannot store (a NUL
character) or that is too long makes its row an error; the other rows are still read.
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from apps.catalog.models import Product
from apps.inventory.models import MAX_QUANTITY, StockLevel
from apps.locations.models import Location
from apps.reports import xlsx

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
# An .xlsx is a zip of XML parts: a small upload can hold gigabytes of XML once uncompressed.
MAX_XLSX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_XLSX_PARTS = 1_000
MAX_COLUMNS = 100  # columns read per row (the importers use at most 7)
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
SHOWN_CHARS = 60  # characters of a bad value quoted in a row error
PRODUCT_COLUMNS = ("sku", "name", "price", "description", "barcode", "unit", "is_active")
COUNT_COLUMNS = ("sku", "location", "counted")
REQUIRED = {"products": ("sku", "name"), "counts": COUNT_COLUMNS}
TRUE, FALSE = {"1", "true", "yes", "y", "active"}, {"0", "false", "no", "n", "inactive"}
MB = 1024 * 1024


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, header, size)."""


@dataclass
class Parsed:
    rows: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {"row": n, "message": ...}
    total: int = 0

    def error(self, row: int, message: str) -> None:
        self.errors.append({"row": row, "message": message})


@dataclass(frozen=True)
class UnreadableRow:
    """A record the CSV reader could not read (the reader carries on with the next one)."""

    reason: str


def _sentence(problems: list[str]) -> str:
    text = "; ".join(problems)
    return text[:1].upper() + text[1:] + "."


def _shown(value: str) -> str:
    """A value quoted in a row error, cut short."""
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "...")


def check_upload(filename: str, size: int) -> None:
    """Refuse at once, without reading it, a file that cannot be imported: too large, or
    neither CSV nor XLSX."""
    if size > MAX_FILE_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_FILE_BYTES // MB} MB.")
    if not filename.lower().endswith((".xlsx", ".csv", ".txt")):
        raise ImportFileError("Upload a .csv or .xlsx file.")


def read_table(
    filename: str, content: bytes, parsed: Parsed, required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, {column: text}) for each data row that can be
    validated. The first row is the header; column names are matched case-insensitively.

    Counts the non-empty data rows in `parsed.total`; a row with a cell that cannot be stored
    or read is recorded in `parsed` as an error and not yielded. Raises ImportFileError when
    the file as a whole cannot be read: too large, not CSV/XLSX, no header or a required
    column missing, no data row, or more than MAX_ROWS rows (empty rows count too).
    """
    check_upload(filename, len(content))
    records = (
        _xlsx_records(content) if filename.lower().endswith(".xlsx") else _csv_records(content)
    )
    header = next(records, None)
    if isinstance(header, UnreadableRow):
        raise ImportFileError(f"The header row cannot be read as CSV: {header.reason}.")
    if not header:
        raise ImportFileError("The file is empty.")
    # Names as they can be quoted in a row error: printable, and short.
    names = [
        "".join(char for char in str(cell or "").strip().lower() if char.isprintable())[:64]
        for cell in header
    ]
    missing = [name for name in required if name not in names]
    if missing:
        raise ImportFileError(f"Missing column(s): {', '.join(missing)}.")
    for number, record in enumerate(records, start=2):
        if number > MAX_ROWS + 1:
            raise ImportFileError(
                f"At most {MAX_ROWS:,} rows per file (empty rows count too: delete the unused "
                "ones at the end of the sheet)."
            )
        if isinstance(record, UnreadableRow):
            parsed.total += 1
            parsed.error(number, f"The row cannot be read as CSV: {record.reason}.")
            continue
        cells = ["" if cell is None else str(cell).strip() for cell in record]
        if not any(cells):
            continue
        parsed.total += 1
        row = dict(zip(names, cells, strict=False))
        problem = _unstorable(row)
        if problem:
            parsed.error(number, problem)
            continue
        yield number, row
    if not parsed.total:
        raise ImportFileError("The file has a header but no rows.")


def _unstorable(row: dict[str, str]) -> str | None:
    """Why a row's cells cannot be taken as they are, or None."""
    problems = []
    for name, text in row.items():
        if "\x00" in text:
            problems.append(f"{name or 'a column without a name'} contains a NUL character")
        elif len(text) > MAX_CELL_CHARS:
            problems.append(
                f"{name or 'a column without a name'} is longer than {MAX_CELL_CHARS:,} characters"
            )
    return _sentence(problems) if problems else None


def _csv_records(content: bytes) -> Iterator[list[str] | UnreadableRow]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError("The CSV file is not UTF-8 text.") from error
    dialect = csv.excel
    with contextlib.suppress(csv.Error):
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    reader = csv.reader(io.StringIO(text), dialect)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # e.g. a cell over the reader's field limit; it carries on
            yield UnreadableRow(str(error))
            continue
        yield record[:MAX_COLUMNS]


def _check_archive(content: bytes) -> None:
    """Refuse an XLSX whose parts would be too large once uncompressed, before parsing any.
    The sizes are those the archive declares: reading never inflates a part beyond its
    declared size (zipfile stops there, and a part that holds more fails its CRC check)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ImportFileError("The XLSX file cannot be read.") from error
    if len(parts) > MAX_XLSX_PARTS:
        raise ImportFileError(f"The XLSX file has more than {MAX_XLSX_PARTS:,} parts.")
    uncompressed = sum(part.file_size for part in parts)
    if uncompressed > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise ImportFileError(
            f"The XLSX file holds {uncompressed / MB:,.0f} MB once uncompressed; at most "
            f"{MAX_XLSX_UNCOMPRESSED_BYTES // MB} MB are read. Split it, or save it as CSV."
        )


def _xlsx_records(content: bytes) -> Iterator[list[str | None]]:
    _check_archive(content)
    rows = xlsx.first_sheet_rows(content, max_rows=MAX_ROWS + 2, max_columns=MAX_COLUMNS)
    number = 0  # rows read so far
    try:
        for row in rows:
            number += 1
            yield row
    except Exception as error:  # a damaged archive, part or XML (entity declarations included)
        where = f" after row {number}" if number else ""
        raise ImportFileError(f"The XLSX file cannot be read{where}.") from error


def _quantity(text: str) -> int | None:
    try:
        value = Decimal(text)
        if value != value.to_integral_value() or not 0 <= value <= MAX_QUANTITY:
            return None
    except InvalidOperation:  # not a number, or a NaN (which refuses comparisons)
        return None
    return int(value)


def parse_products(filename: str, content: bytes, merchant_id: int) -> Parsed:
    """Rows {sku, name, price, description, barcode, unit, is_active, exists}."""
    parsed = Parsed()
    existing = set(Product.objects.filter(merchant_id=merchant_id).values_list("sku", flat=True))
    units = set(Product.Unit.values)
    seen: dict[str, int] = {}
    for number, cells in read_table(filename, content, parsed, REQUIRED["products"]):
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
        elif len(name) > 200:
            problems.append("name is longer than 200 characters")
        if len(cells.get("barcode", "")) > 64:
            problems.append("barcode is longer than 64 characters")
        price = Decimal("0.00")
        if cells.get("price"):
            try:
                price = Decimal(cells["price"]).quantize(Decimal("0.01"))
                if price < 0 or price >= Decimal("10000000000"):
                    problems.append(f"price {cells['price']} is out of range")
            except InvalidOperation:
                problems.append(f"price {_shown(cells['price'])} is not a number")
        unit = (cells.get("unit") or Product.Unit.EACH).lower()
        if unit not in units:
            problems.append(f"unit {_shown(unit)} is not one of {', '.join(sorted(units))}")
        active_text = (cells.get("is_active") or "true").lower()
        if active_text not in TRUE | FALSE:
            problems.append(f"is_active {_shown(active_text)} is not yes or no")
        if problems:
            parsed.error(number, _sentence(problems))
            continue
        seen[sku] = number
        parsed.rows.append(
            {
                "row": number, "sku": sku, "name": name, "price": str(price),
                "description": cells.get("description", ""), "barcode": cells.get("barcode", ""),
                "unit": unit, "is_active": active_text in TRUE, "exists": sku in existing,
            }
        )  # fmt: skip
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
    for number, cells in read_table(filename, content, parsed, REQUIRED["counts"]):
        sku, code, counted_text = (
            cells.get("sku", ""),
            cells.get("location", ""),
            cells.get("counted", ""),
        )
        problems = []
        product_id, location_id = products.get(sku), locations.get(code)
        if product_id is None:
            problems.append(f"unknown SKU {_shown(sku)}")
        if location_id is None:
            problems.append(f"unknown location {_shown(code)}")
        elif location_ids is not None and location_id not in location_ids:
            problems.append(f"you do not manage location {code}")
        counted = _quantity(counted_text)
        if counted is None:
            problems.append(f"counted {_shown(counted_text)} is not a whole number from 0")
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
