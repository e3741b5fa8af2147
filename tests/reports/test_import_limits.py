"""Import files are hostile until read: the request that uploads a file never parses it, and
the reading is bounded (uncompressed size, rows with empty ones, columns, cell length). Any
cell content the database or the parser cannot take is a row error on the page, never a 500."""

import io
import itertools
import struct
import time
import zipfile
from collections.abc import Iterable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from apps.catalog.models import Product
from apps.core import embedded_scheduler
from apps.inventory.models import StockLevel
from apps.reports import imports
from apps.reports.models import ImportBatch
from apps.reports.services import import_read_waiting
from tests import factories
from tests.admin_helpers import Role, logged_in, staff

pytestmark = pytest.mark.django_db

SHEET = "xl/worksheets/sheet1.xml"
# Where a workbook declares its shared strings: the package manifest and the workbook's
# relationships.
SHARED_STRINGS_ENTRY = {
    "[Content_Types].xml": (
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>',
    ),
    "xl/_rels/workbook.xml.rels": (
        "</Relationships>",
        '<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>',
    ),
}
SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def cell(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


def row(number: int, *texts: str) -> str:
    cells = "".join(cell(f"{'ABCDEFG'[n]}{number}", text) for n, text in enumerate(texts))
    return f'<row r="{number}">{cells}</row>'


def workbook(sheet_xml: Iterable[str], shared_strings: str | None = None) -> bytes:
    """A real workbook (saved by openpyxl) whose first sheet is replaced by `sheet_xml`,
    streamed into the archive piece by piece (so tests can build large sheets cheaply), and
    its shared strings by `shared_strings` when given."""
    template = io.BytesIO()
    Workbook().save(template)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(template) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename == SHEET:
                with target.open(SHEET, "w") as sheet:
                    buffer = []
                    for piece in sheet_xml:
                        buffer.append(piece)
                        if len(buffer) >= 10_000:
                            sheet.write("".join(buffer).encode())
                            buffer = []
                    sheet.write("".join(buffer).encode())
            elif info.filename in SHARED_STRINGS_ENTRY and shared_strings is not None:
                end, entry = SHARED_STRINGS_ENTRY[info.filename]
                text = source.read(info.filename).decode()
                target.writestr(info, text.replace(end, entry + end))
            else:
                target.writestr(info, source.read(info.filename))
        if shared_strings is not None:
            target.writestr("xl/sharedStrings.xml", shared_strings)
    return out.getvalue()


def sheet(rows: Iterable[str], dimension: str = "") -> Iterable[str]:
    yield SHEET_START
    if dimension:
        yield f'<dimension ref="{dimension}"/>'
    yield "<sheetData>"
    yield from rows
    yield "</sheetData></worksheet>"


def upload(client, kind, merchant, name, content: bytes):
    return client.post(
        reverse("reports:import_upload", args=[kind]),
        {"merchant": merchant.pk, "file": SimpleUploadedFile(name, content)},
    )


@pytest.fixture
def owner_client(client, merchant):
    return logged_in(client, staff(merchant, Role.OWNER))


def read_in_background() -> tuple[ImportBatch, float]:
    started = time.monotonic()
    assert import_read_waiting() == 1
    return ImportBatch.objects.get(), time.monotonic() - started


def test_the_upload_answers_at_once_and_the_file_is_read_by_the_background_job(
    owner_client, merchant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(owner_client, "products", merchant, "p.csv", b"sku,name\nA-1,Tee\n")
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.total_rows, batch.rows) == ("reading", 0, [])  # not parsed yet
    page = owner_client.get(response.url).content.decode()
    assert "Reading and checking the file" in page
    assert '<meta http-equiv="refresh"' in page  # the page follows the job
    # Without a broker the upload wakes the in-process scheduler, whose job reads it.
    jobs = [job for job in embedded_scheduler.JOBS if job.func is import_read_waiting]
    assert [job.on_wake for job in jobs] == [True]

    batch, _ = read_in_background()
    assert (batch.status, batch.valid_rows, batch.content) == ("preview", 1, None)
    assert "Confirm import of 1 row" in owner_client.get(response.url).content.decode()
    assert import_read_waiting() == 0  # read once


def test_millions_of_empty_rows_stop_at_the_row_limit(owner_client, merchant):
    # As in the report: a small workbook holding 4 million empty rows (44 MB of XML).
    empty_rows = itertools.repeat("<row></row>", 4_000_000)
    content = workbook(sheet(itertools.chain([row(1, "sku", "name")], empty_rows)))
    assert len(content) < 200_000
    upload(owner_client, "products", merchant, "empty-rows.xlsx", content)
    batch, seconds = read_in_background()
    assert batch.status == "refused"
    assert batch.file_error.startswith("At most 200,000 rows per file (empty rows count too")
    assert seconds < 20  # the whole sheet took 30 s and more before
    assert not Product.objects.exists()


def test_rows_numbered_far_beyond_the_limit_are_not_padded_with_empty_ones(owner_client, merchant):
    content = workbook(sheet([row(1, "sku", "name"), row(2, "A-1", "Tee"), row(1_048_576, "B")]))
    upload(owner_client, "products", merchant, "far.xlsx", content)
    batch, _ = read_in_background()
    assert batch.status == "refused"
    assert "At most 200,000 rows per file" in batch.file_error


def test_a_workbook_too_large_once_uncompressed_is_refused_before_parsing(owner_client, merchant):
    padding = " " * (1024 * 1024)
    rows = [row(1, "sku", "name"), row(2, "A-1", "Tee"), *(padding for _ in range(101))]
    content = workbook(sheet(rows))
    assert len(content) < 1_000_000
    upload(owner_client, "products", merchant, "inflates.xlsx", content)
    batch, seconds = read_in_background()
    assert batch.status == "refused"
    assert batch.file_error == (
        "The XLSX file holds 101 MB once uncompressed; at most 100 MB are read. Split it, or "
        "save it as CSV."
    )
    assert seconds < 5


def declare_smaller(content: bytes, name: str, declared: int) -> bytes:
    """The archive with `name`'s uncompressed size in the central directory rewritten to
    `declared`: a lying header (what zipfile and openpyxl go by)."""
    data = bytearray(content)
    encoded = name.encode()
    entry = data.find(b"PK\x01\x02")
    while data[entry + 46 : entry + 46 + len(encoded)] != encoded:
        entry = data.find(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, declared)  # uncompressed size
    return bytes(data)


def test_a_part_holding_more_than_it_declares_is_refused_not_inflated(owner_client, merchant):
    rows = [row(1, "sku", "name"), *(row(n, f"SKU-{n}", "Tee") for n in range(2, 200_000))]
    honest = workbook(sheet(rows))
    content = declare_smaller(honest, SHEET, 4096)
    upload(owner_client, "products", merchant, "lies.xlsx", content)
    batch, seconds = read_in_background()
    assert batch.status == "refused"
    assert batch.file_error.startswith("The XLSX file cannot be read")
    assert seconds < 10
    assert not Product.objects.exists()


@pytest.mark.timeout(120)
def test_a_sheet_claiming_16384_columns_is_read_over_its_first_columns_only(owner_client, merchant):
    rows = [row(1, "sku", "name"), *(row(n, f"SKU-{n}", "Tee") for n in range(2, 20_002))]
    content = workbook(sheet(rows, dimension="A1:XFD20001"))
    upload(owner_client, "products", merchant, "wide.xlsx", content)
    batch, seconds = read_in_background()
    assert (batch.status, batch.valid_rows, batch.errors) == ("preview", 20_000, [])
    assert seconds < 15  # 16,384 cells per row: half a minute for these 20,000 rows


def test_entity_declarations_in_a_workbook_are_refused(owner_client, merchant):
    shared = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        'uniqueCount="1"><si><t>&b;</t></si></sst>'
    )
    rows = [row(1, "sku", "name"), '<row r="2"><c r="A2" t="s"><v>0</v></c>' + cell("B2", "x")]
    content = workbook(sheet([*rows, "</row>"]), shared_strings=shared)
    upload(owner_client, "products", merchant, "entities.xlsx", content)
    batch, _ = read_in_background()
    assert batch.status == "refused"
    assert batch.file_error.startswith("The XLSX file cannot be read")


def test_a_file_over_the_upload_limit_is_refused_on_the_form_unread(owner_client, merchant):
    content = b"sku,name\n" + b"A,B\n" * (imports.MAX_FILE_BYTES // 4 + 1)
    response = upload(owner_client, "products", merchant, "big.csv", content)
    assert "The file is larger than 20 MB." in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_cells_the_database_cannot_store_are_row_errors_and_the_other_rows_import(
    owner_client, merchant, django_capture_on_commit_callbacks
):
    long_description = "d" * 140_000  # over the CSV reader's own field limit (131,072)
    content = (
        "sku,name,description,barcode\n"
        "OK-1,Tee,,\n"
        "NUL-1,Te\x00e,,\n"
        f"LONG-1,Tee,{long_description},\n"
        f"LONG-2,Tee,{'d' * 40_000},\n"
        f"NAME-1,{'n' * 201},,\n"
        f"BAR-1,Tee,,{'7' * 65}\n"
        "NUL-2\x00,Cap,,\n"
        "OK-2,Cap,plain,4006381333931\n"
    ).encode()
    response = upload(owner_client, "products", merchant, "products.csv", content)
    batch, _ = read_in_background()
    assert batch.status == "preview"
    assert [error["row"] for error in batch.errors] == [3, 4, 5, 6, 7, 8]
    messages = [error["message"] for error in batch.errors]
    assert messages[0] == "Name contains a NUL character."
    assert messages[1].startswith("The row cannot be read as CSV: field larger than field limit")
    assert messages[2] == "Description is longer than 32,767 characters."
    assert messages[3] == "Name is longer than 200 characters."
    assert messages[4] == "Barcode is longer than 64 characters."
    assert messages[5] == "Sku contains a NUL character."
    assert (batch.total_rows, batch.valid_rows) == (8, 2)
    page = owner_client.get(response.url)
    assert page.status_code == 200
    assert "Name contains a NUL character." in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(response.url)
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["OK-1", "OK-2"]


def test_count_cells_that_broke_the_parser_are_row_errors(
    owner_client, merchant, product, location, django_capture_on_commit_callbacks
):
    factories.stock(product, location, 10)
    content = (
        "sku,location,counted\n"
        f"{product.sku},{location.code},sNaN\n"
        f"{product.sku},{location.code},NaN\n"
        f"{'X' * 500},{location.code},1\n"
        f"{product.sku}\x00,{location.code},1\n"
        f"{product.sku},{location.code},7\n"
    ).encode()
    response = upload(owner_client, "counts", merchant, "counts.csv", content)
    batch, _ = read_in_background()
    assert batch.status == "preview"
    assert batch.errors == [
        {"row": 2, "message": "Counted 'sNaN' is not a whole number from 0."},
        {"row": 3, "message": "Counted 'NaN' is not a whole number from 0."},
        {"row": 4, "message": f"Unknown SKU '{'X' * 60}...'."},
        {"row": 5, "message": "Sku contains a NUL character."},
    ]
    assert owner_client.get(response.url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(response.url)
    assert StockLevel.objects.get(product=product, location=location).on_hand == 7


def test_xlsx_cells_too_long_or_unreadable_are_row_errors(owner_client, merchant):
    rows = [
        row(1, "sku", "name", "description"),
        row(2, "OK-1", "Tee", "fine"),
        row(3, "LONG-1", "Tee", "d" * 40_000),
        row(4, "CTRL-1", "Tee\x01", ""),  # a control character XML cannot carry
    ]
    upload(owner_client, "products", merchant, "products.xlsx", workbook(sheet(rows)))
    batch, _ = read_in_background()
    assert batch.status == "refused"  # the sheet is not well-formed XML
    assert batch.file_error.startswith("The XLSX file cannot be read")
    upload(owner_client, "products", merchant, "products.xlsx", workbook(sheet(rows[:3])))
    batch = ImportBatch.objects.filter(status="reading").get()
    import_read_waiting()
    batch.refresh_from_db()
    assert (batch.status, batch.valid_rows) == ("preview", 1)
    assert batch.errors == [{"row": 3, "message": "Description is longer than 32,767 characters."}]


def test_a_file_name_with_control_characters_is_stored_without_them(merchant):
    from apps.reports.services import import_upload

    batch = import_upload(
        merchant=merchant, kind="products", filename="prices\x00\x1b.csv",
        content=b"sku,name\nA,B\n", user=staff(merchant, Role.OWNER),
    )  # fmt: skip
    batch.refresh_from_db()
    assert batch.filename == "prices.csv"


def test_column_names_are_quoted_in_row_errors_only_as_they_can_be_stored(owner_client, merchant):
    content = b"sku,name,No\x00tes\nOK-1,Tee,fine\nBAD-1,Tee,has\x00nul\n"
    upload(owner_client, "products", merchant, "products.csv", content)
    batch, _ = read_in_background()
    assert batch.status == "preview"
    assert batch.errors == [{"row": 3, "message": "Notes contains a NUL character."}]
    long_header = ("sku,name," + "h" * 140_000 + "\nA,B,C\n").encode()
    upload(owner_client, "products", merchant, "products.csv", long_header)
    import_read_waiting()
    refused = ImportBatch.objects.get(status="refused")
    assert refused.file_error.startswith("The header row cannot be read as CSV: field larger")
