"""The rows of the first sheet of an XLSX workbook, read as a stream with bounded work.

A general workbook library does more than an import needs and trusts the file more than an
import may: openpyxl, for one, parses a whole sheet before the first row when the sheet does
not declare its dimensions, and pads every row to the width a sheet declares (16,384 columns).
This reader parses with defusedxml (no entity expansion, no external references), stops after
`max_rows` rows (empty rows and gaps in the row numbers count), keeps the first `max_columns`
columns, holds one row in memory at a time, and returns cell values as text, the way a
spreadsheet shows them (shared and inline strings, numbers, TRUE/FALSE, error codes); formula
cells give their last computed value.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator

from defusedxml.ElementTree import fromstring, iterparse

CELL_REFERENCE = re.compile(r"([A-Z]{1,3})\d+$")


class XlsxError(ValueError):
    """The workbook's structure is not what an XLSX file has."""


def _name(element) -> str:
    """An element's tag without its namespace (the transitional and strict schemas differ)."""
    return element.tag.rsplit("}", 1)[-1]


def _relationships(archive: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(id, type, path in the archive) of each relationship of a part ("" for the package)."""
    folder = posixpath.dirname(part)
    rels = posixpath.join(folder, "_rels", f"{posixpath.basename(part)}.rels")
    try:
        root = fromstring(archive.read(rels))
    except KeyError as error:
        raise XlsxError(f"{rels} is missing") from error
    found = []
    for relationship in root:
        target = relationship.get("Target", "")
        path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
        kind = relationship.get("Type", "").rsplit("/", 1)[-1]
        found.append((relationship.get("Id", ""), kind, posixpath.normpath(path)))
    return found


def _relationship_id(element) -> str | None:
    """A sheet's r:id, whichever schema's namespace it is in."""
    return next((value for key, value in element.attrib.items() if key.endswith("}id")), None)


def _part(relationships: list[tuple[str, str, str]], kind: str) -> str | None:
    return next((path for _, found, path in relationships if found == kind), None)


def _shared_strings(archive: zipfile.ZipFile, path: str) -> list[str]:
    strings: list[str] = []
    with archive.open(path) as source:
        events = iterparse(source, events=("start", "end"))
        _, root = next(events)
        for event, element in events:
            if event == "end" and _name(element) == "si":
                strings.append(_text(element))
                root.clear()  # one string in memory at a time
    return strings


def _text(element) -> str:
    """The text of a string item: its <t>, or its rich-text runs' <t>s (not phonetic runs)."""
    parts = []
    for child in element:
        if _name(child) == "t":
            parts.append(child.text or "")
        elif _name(child) == "r":
            parts.extend(run.text or "" for run in child if _name(run) == "t")
    return "".join(parts)


def _column(reference: str | None) -> int | None:
    """1 for A1, 28 for AB7; None for a missing or malformed reference."""
    match = CELL_REFERENCE.match(reference or "")
    if match is None:
        return None
    number = 0
    for letter in match.group(1):
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _value(cell, shared: list[str]) -> str | None:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = next((child for child in cell if _name(child) == "is"), None)
        return None if inline is None else _text(inline)
    value = next((child.text for child in cell if _name(child) == "v"), None)
    if value is None:
        return None
    if kind == "s":
        try:
            return shared[int(value)]
        except (ValueError, IndexError) as error:
            raise XlsxError(f"shared string {value} is missing") from error
    if kind == "b":
        return "TRUE" if value.strip() == "1" else "FALSE"
    return value


def _cells(row, shared: list[str], max_columns: int) -> list[str | None]:
    values: list[str | None] = []
    for cell in row:
        if _name(cell) != "c":
            continue
        column = _column(cell.get("r")) or len(values) + 1
        if column > max_columns:
            continue
        if column > len(values):
            values.extend([None] * (column - len(values)))
        values[column - 1] = _value(cell, shared)
    return values


def first_sheet_rows(
    content: bytes, *, max_rows: int, max_columns: int
) -> Iterator[list[str | None]]:
    """The first sheet's rows in order, from row 1 (missing rows are empty lists), at most
    `max_rows` of them, each with at most `max_columns` cells (None where a cell is empty).
    Raises XlsxError, zipfile.BadZipFile or an XML parse error for a damaged workbook."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        workbook = _part(_relationships(archive, ""), "officeDocument")
        if workbook is None:
            raise XlsxError("the package names no workbook")
        relationships = _relationships(archive, workbook)
        sheets = [
            _relationship_id(element)
            for element in fromstring(archive.read(workbook)).iter()
            if _name(element) == "sheet"
        ]
        paths = {identifier: path for identifier, _, path in relationships}
        if not sheets or sheets[0] not in paths:
            raise XlsxError("the workbook has no sheet")
        strings = _part(relationships, "sharedStrings")
        shared = _shared_strings(archive, strings) if strings else []
        yield from _rows(archive, paths[sheets[0]], shared, max_rows, max_columns)


def _rows(
    archive: zipfile.ZipFile, path: str, shared: list[str], max_rows: int, max_columns: int
) -> Iterator[list[str | None]]:
    expected = 1  # the number of the next row to yield
    with archive.open(path) as source:
        sheet_data = None
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if _name(element) == "sheetData":
                    sheet_data = element
                continue
            if _name(element) != "row":
                continue
            number = element.get("r", "")
            number = max(int(number), expected) if number.isdigit() else expected
            while expected < number:  # rows the sheet leaves out are empty
                if expected > max_rows:
                    return
                yield []
                expected += 1
            if expected > max_rows:
                return
            yield _cells(element, shared, max_columns)
            expected += 1
            (sheet_data if sheet_data is not None else element).clear()  # one row in memory
