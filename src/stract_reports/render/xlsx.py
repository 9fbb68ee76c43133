"""A table as an Excel workbook (.xlsx), written by XlsxWriter.

XlsxWriter is pure Python, well kept, and writes row by row in ``constant_memory`` mode (each
row goes to a temporary file as it is written), so a 300,000-row report does not hold a second
copy of itself as cell objects. It never evaluates anything: text is written with
``write_string`` and stays text (a cell "=1+1" shows "=1+1"), numbers are numeric cells.
"""

from __future__ import annotations

import io
from decimal import Decimal

import xlsxwriter

from ..reports.table import Table
from .kinds import Kind, column_kind

# Excel number formats by column kind; counts get thousands separators, exact decimals stay.
_FORMATS: dict[Kind, str] = {
    "money": "#,##0.00",
    "percent": "0.00%",
    "ratio": "0.0000",
    "number": "#,##0",
}
_FRACTION_FORMAT = "#,##0.0#########"  # a plain number with decimals: show them all
_MAX_TEXT = 32_767  # Excel's limit on the characters of one cell
_MAX_WIDTH = 60  # characters: a long ad name should not push every other column away
_SHEET_NAME_LIMIT = 31
# An Excel sheet's size: 1,048,576 rows (one is the header) and 16,384 columns.
MAX_ROWS = 1_048_575
MAX_COLUMNS = 16_384


class WorkbookTooLarge(ValueError):
    """The table does not fit in one Excel sheet; the message says so and points to CSV."""


_SHEET_NAME_FORBIDDEN = str.maketrans({c: "-" for c in "[]:*?/\\"})


def render_xlsx(table: Table) -> bytes:
    """The table as a one-sheet workbook: bold frozen header with an autofilter, numbers as
    numeric cells formatted by kind, text as text, columns sized to their contents.

    Raises ``WorkbookTooLarge`` past Excel's sheet size: a workbook is never cut short. Text
    longer than an Excel cell holds (32,767 characters) is cut to that length.
    """
    if len(table) > MAX_ROWS or len(table.columns) > MAX_COLUMNS:
        raise WorkbookTooLarge(
            f"{len(table):,} rows and {len(table.columns):,} columns do not fit in an Excel "
            f"sheet ({MAX_ROWS:,} rows, {MAX_COLUMNS:,} columns at most): ask for CSV, or fewer "
            "rows with _size or filters"
        )
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            # Belt and braces: cells are written with typed calls, never guessed from text.
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    workbook.set_properties({"title": table.title})
    sheet = workbook.add_worksheet(
        table.spec.slug.translate(_SHEET_NAME_FORBIDDEN)[:_SHEET_NAME_LIMIT]
    )
    header = workbook.add_format({"bold": True})
    kinds = [column_kind(label, n) for label, n in zip(table.columns, table.numeric, strict=True)]
    formats = {kind: workbook.add_format({"num_format": code}) for kind, code in _FORMATS.items()}
    fraction = workbook.add_format({"num_format": _FRACTION_FORMAT})
    widths = [len(label) + 3 for label in table.columns]  # room for the filter button

    for column, label in enumerate(table.columns):
        sheet.write_string(0, column, label, header)
    # A chunk of rows at a time: never every row's cells at once.
    every_row = (row for rows in table.chunks() for row in table.cells(rows))
    for r, row in enumerate(every_row, start=1):
        for column, cell in enumerate(row):
            if cell is None:
                continue
            kind = kinds[column]
            if kind == "text":
                text = str(cell)[:_MAX_TEXT]
                sheet.write_string(r, column, text)
                widths[column] = max(widths[column], len(text))
                continue
            number_format = formats[kind]
            if kind == "number" and not _integral(cell):
                number_format = fraction
            # float is Excel's own number type; Decimal digits beyond 15 cannot be stored.
            sheet.write_number(r, column, float(cell), number_format)
            widths[column] = max(widths[column], len(f"{cell:,}") + 1)
    for column, width in enumerate(widths):
        sheet.set_column(column, column, min(width, _MAX_WIDTH) + 1)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(table), max(len(table.columns) - 1, 0))
    workbook.close()
    return out.getvalue()


def _integral(value: object) -> bool:
    return type(value) is int or (isinstance(value, Decimal) and value == value.to_integral_value())
