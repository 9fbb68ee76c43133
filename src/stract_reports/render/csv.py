"""A table as CSV: RFC 4180 by default, or the pt-BR Excel preset."""

from __future__ import annotations

import csv
import io

from ..reports.numbers import Number, format_number, parse_number
from ..reports.table import Table

# OWASP CSV injection: a spreadsheet evaluates a cell that starts with one of these.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula; plain numbers stay as they are."""
    if text.startswith(_FORMULA_STARTS) and parse_number(text) is None:
        return "'" + text
    return text


def render_csv(table: Table, *, excel_br: bool = False) -> str:
    """The table with a header row; ``excel_br``: ``;`` separator, decimal comma, UTF-8 BOM."""
    out = io.StringIO()
    if excel_br:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=";" if excel_br else ",", lineterminator="\r\n")
    writer.writerow([neutralise(label) for label in table.columns])
    writer.writerows(table.text_rows(_brazilian_number if excel_br else format_number, neutralise))
    return out.getvalue()


def _brazilian_number(value: Number) -> str:
    return format_number(value, ",")
