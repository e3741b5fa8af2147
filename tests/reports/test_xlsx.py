"""The streaming XLSX reader gives what a spreadsheet shows, within its bounds."""

import io

from openpyxl import Workbook

from apps.reports.xlsx import first_sheet_rows
from tests.reports.test_import_limits import cell, row, sheet, workbook

SHARED = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<si><t>sku</t></si>"
    '<si><r><rPr><b/></rPr><t>Black </t></r><r><t xml:space="preserve">tee</t></r>'
    "<rPh><t>ignored</t></rPh></si>"
    "</sst>"
)


def test_strings_numbers_booleans_and_gaps_read_as_a_spreadsheet_shows_them():
    rows = [
        '<row r="1"><c r="A1" t="s"><v>0</v></c>' + cell("B1", "name") + "</row>",
        '<row r="2"><c r="A2"><v>19.9</v></c><c r="B2" t="s"><v>1</v></c>'
        '<c r="C2" t="b"><v>1</v></c><c r="E2" t="e"><v>#N/A</v></c>'
        '<c r="F2" t="str"><f>A2*2</f><v>39.8</v></c></row>',
        row(5, "after a gap"),
    ]
    content = workbook(sheet(rows), shared_strings=SHARED)
    assert list(first_sheet_rows(content, max_rows=10, max_columns=10)) == [
        ["sku", "name"],
        ["19.9", "Black tee", "TRUE", None, "#N/A", "39.8"],
        [],
        [],
        ["after a gap"],
    ]


def test_rows_and_columns_are_cut_at_their_limits():
    rows = [row(n, "a", "b", "c") for n in range(1, 6)]
    content = workbook(sheet([*rows, row(1_000_000, "far")]))
    assert list(first_sheet_rows(content, max_rows=3, max_columns=2)) == [["a", "b"]] * 3


def test_a_workbook_saved_by_a_spreadsheet_library_reads_its_first_sheet():
    book = Workbook()
    book.active.append(["sku", "counted", "active"])
    book.active.append(["TEE-1", 4, False])
    book.create_sheet("other").append(["not this one"])
    saved = io.BytesIO()
    book.save(saved)
    assert list(first_sheet_rows(saved.getvalue(), max_rows=5, max_columns=5)) == [
        ["sku", "counted", "active"],
        ["TEE-1", "4", "FALSE"],
    ]
