"""A table as CSV: RFC 4180 by default, or an Excel preset; and as TSV."""

from __future__ import annotations

import csv
import io
from typing import Literal

from ..reports.numbers import Number, format_number, parse_number
from ..reports.table import Table

# OWASP CSV injection: a spreadsheet evaluates a cell that starts with one of these.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Excel presets: "br" for Excel in Brazilian locale (";" and decimal comma), "1" for Excel in
# any locale (a comma-separated file Excel opens as UTF-8 because of its BOM).
ExcelPreset = Literal["br", "1"]
EXCEL_PRESETS: tuple[str, ...] = ("br", "1")


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula; plain numbers stay as they are."""
    if text.startswith(_FORMULA_STARTS) and parse_number(text) is None:
        return "'" + text
    return text


def render_csv(table: Table, *, excel_br: bool = False, excel: ExcelPreset | None = None) -> str:
    """The table with a header row. ``excel="br"`` (or ``excel_br``): ``;`` separator, decimal
    comma, UTF-8 BOM; ``excel="1"``: comma separator, decimal point, UTF-8 BOM."""
    preset = "br" if excel_br else excel
    out = io.StringIO()
    if preset is not None:
        out.write("\ufeff")
    _write(out, table, ";" if preset == "br" else ",", preset == "br")
    return out.getvalue()


def render_tsv(table: Table) -> str:
    """The table as tab-separated values with a header row, for tools that import TSV."""
    out = io.StringIO()
    _write(out, table, "\t", False)
    return out.getvalue()


def _write(out: io.StringIO, table: Table, delimiter: str, decimal_comma: bool) -> None:
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(label) for label in table.columns])
    writer.writerows(
        table.text_rows(_brazilian_number if decimal_comma else format_number, neutralise)
    )


def _brazilian_number(value: Number) -> str:
    return format_number(value, ",")
