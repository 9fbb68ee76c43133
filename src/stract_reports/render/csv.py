"""A table as CSV: RFC 4180 by default, or the pt-BR Excel preset; whole, or streamed in chunks.

The bytes are those of ``csv.writer`` over the rows, made a chunk of rows at a time without a
Python object per cell: a text is neutralised (a spreadsheet would run it as a formula) and
quoted by the writer itself once per distinct value of its column; numbers come as their
column prints them (exact, positional, the decimal comma of the pt-BR preset) and never need
quotes; a row is one ``str.join``.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from typing import Literal

from ..reports.numbers import looks_numeric
from ..reports.table import Table
from .cells import ColumnTexts

# OWASP CSV injection: a spreadsheet evaluates a cell that starts with one of these, full-width
# and small forms included (IMEs type them; spreadsheets normalise them to the ASCII ones).
_FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")
# Characters a spreadsheet drops or shows as nothing before a formula: spaces of every kind
# (NBSP, line breaks, ...), controls and format characters (zero-width space, BOM, ...).
_HIDING_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})

# Excel presets: "br" for Excel in Brazilian locale (";" and decimal comma), "1" for Excel in
# any locale (a comma-separated file Excel opens as UTF-8 because of its BOM).
ExcelPreset = Literal["br", "1"]


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula, also when the trigger hides
    behind leading spaces or invisible characters; plain numbers stay as they are."""
    if _hides_formula(text) and not looks_numeric(text):
        return "'" + text
    return text


def _hides_formula(text: str) -> bool:
    for char in text:
        if char in _FORMULA_STARTS:
            return True
        if not (char.isspace() or unicodedata.category(char) in _HIDING_CATEGORIES):
            return False
    return False


# A CSV has no place for a table's warnings: its response carries them in this header.
WARNINGS_HEADER = "X-Report-Warnings"
_WARNINGS_HEADER_LIMIT = 4000


def warnings_header(table: Table) -> str | None:
    """The table's warnings as a ``WARNINGS_HEADER`` value: a JSON list of strings in ASCII
    (upstream text can hold no line break or other byte that would end the header), cut to a
    few kilobytes; None when there are none."""
    if not table.warnings:
        return None
    kept = [w if len(w) <= 500 else w[:500] + "…" for w in table.warnings]
    shown = kept
    while len(_ascii_json(shown)) > _WARNINGS_HEADER_LIMIT:
        kept = kept[: len(kept) // 2]
        shown = [*kept, f"and {len(table.warnings) - len(kept)} more warnings (see the JSON)"]
    return _ascii_json(shown)


def _ascii_json(texts: list[str]) -> str:
    return json.dumps(texts, ensure_ascii=True, separators=(",", ":"))


def render_csv(table: Table, *, excel: ExcelPreset | None = None) -> str:
    """The table with a header row. ``excel="br"``: ``;`` separator, decimal comma, UTF-8 BOM;
    ``excel="1"``: comma separator, decimal point, UTF-8 BOM."""
    return "".join(csv_chunks(table, excel=excel))


def render_tsv(table: Table) -> str:
    """The table as tab-separated values with a header row, for tools that import TSV."""
    return "".join(tsv_chunks(table))


def csv_chunks(table: Table, *, excel: ExcelPreset | None = None) -> Iterator[str]:
    """``render_csv`` a chunk of rows at a time (the header with the first)."""
    if excel is None:
        return _chunks(table, ",", decimal_comma=False, bom=False)
    return _chunks(table, ";" if excel == "br" else ",", decimal_comma=excel == "br", bom=True)


def tsv_chunks(table: Table) -> Iterator[str]:
    """``render_tsv`` a chunk of rows at a time (the header with the first)."""
    return _chunks(table, "\t", decimal_comma=False, bom=False)


def _chunks(table: Table, delimiter: str, *, decimal_comma: bool, bom: bool) -> Iterator[str]:
    """Rows as ``csv.writer`` writes them: each distinct text neutralised and quoted once, by
    the writer itself; numbers as their column prints them (they never need quotes)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")

    def quoted(text: str) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow([neutralise(text), ""])  # two fields: a lone empty one is quoted
        return out.getvalue()[: -(2 + len(delimiter))]

    out.write("\ufeff" if bom else "")
    writer.writerow([neutralise(label) for label in table.columns])
    head = out.getvalue()
    # csv writes a row holding one empty field as "" (an empty line would be no row at all).
    empty = '""' if len(table.columns) == 1 else ""
    columns = [ColumnTexts(column, quoted, empty, decimal_comma) for column in table.data]
    for rows in table.chunks():
        cells = [texts(rows) for texts in columns]
        lines = map(delimiter.join, zip(*cells, strict=True)) if cells else [""] * len(rows)
        yield head + "\r\n".join(lines) + "\r\n"
        head = ""
    if head:
        yield head  # no rows: the header alone
