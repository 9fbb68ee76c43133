"""A table as CSV: RFC 4180 by default, or the pt-BR Excel preset; whole, or streamed in chunks.

Rows go to ``csv.writer`` as they are (it prints None as "" and numbers with ``str``), a chunk
of rows at a time; a cell is converted only where its printed form must differ: text that a
spreadsheet would run as a formula (decided once per distinct value of a chunk), a decimal
whose ``str`` has an exponent, the decimal comma of the pt-BR preset.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from ..reports.numbers import format_number, looks_numeric
from ..reports.table import Cell, Table

# OWASP CSV injection: a spreadsheet evaluates a cell that starts with one of these, full-width
# and small forms included (IMEs type them; spreadsheets normalise them to the ASCII ones).
_FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")
# Characters a spreadsheet drops or shows as nothing before a formula: spaces of every kind
# (NBSP, line breaks, ...), controls and format characters (zero-width space, BOM, ...).
_HIDING_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
_CHUNK_ROWS = 2000

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


def _may_hide_formula(text: str) -> bool:
    """A cheap first look: False for nearly every text (it starts with a visible character)."""
    first = text[:1]
    return first in _FORMULA_STARTS or not first.isprintable() or first.isspace()


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
    return "".join(_text_chunks(table, _dialect(excel)))


def render_tsv(table: Table) -> str:
    """The table as tab-separated values with a header row, for tools that import TSV."""
    return "".join(_text_chunks(table, _Dialect("\t", False, False)))


class _Dialect(NamedTuple):
    delimiter: str
    decimal_comma: bool
    bom: bool


def _dialect(excel: ExcelPreset | None) -> _Dialect:
    if excel is None:
        return _Dialect(",", False, False)
    return _Dialect(";", True, True) if excel == "br" else _Dialect(",", False, True)


def _text_chunks(table: Table, dialect: _Dialect) -> Iterator[str]:
    out = io.StringIO()
    if dialect.bom:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=dialect.delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(label) for label in table.columns])
    for rows in _row_chunks(table, decimal_comma=dialect.decimal_comma):
        writer.writerows(rows)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.tell():  # no rows: the header alone
        yield out.getvalue()


def _row_chunks(table: Table, *, decimal_comma: bool) -> Iterator[Iterable[Sequence[Any]]]:
    """The rows for ``csv.writer``, a chunk at a time, converted only in the columns of the
    chunk that need it."""
    width = len(table.columns)
    rows = table.rows
    for start in range(0, len(rows), _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        changed: dict[int, Iterable[Any]] = {}
        for column, numeric in enumerate(table.numeric):
            cell = itemgetter(column)
            converted = _numbers(chunk, cell, decimal_comma) if numeric else _texts(chunk, cell)
            if converted is not None:
                changed[column] = converted
        if not changed:
            yield chunk
            continue
        columns = (changed.get(c) or map(itemgetter(c), chunk) for c in range(width))
        yield zip(*columns, strict=True)


def _texts(rows: list[list[Cell]], cell: itemgetter[Any]) -> Iterable[Any] | None:
    """A column's text cells neutralised, or None when no cell changes."""
    changes: dict[Any, str] = {}
    for value in set(map(cell, rows)):
        if type(value) is str and _may_hide_formula(value):
            neutral = neutralise(value)
            if neutral is not value:
                changes[value] = neutral
    if not changes:
        return None
    values = list(map(cell, rows))
    return map(changes.get, values, values)


def _numbers(rows: list[list[Cell]], cell: itemgetter[Any], comma: bool) -> Iterable[Any] | None:
    """A column's numbers as text where ``str`` would not print them right (an exponent, the
    decimal comma); None when it would print every cell right."""
    if "E" not in "".join(map(str, map(cell, rows))):  # None prints "None": no "E" either
        if not comma:
            return None
        return [
            "" if v is None else str(v).replace(".", ",") if type(v) is Decimal else v
            for v in map(cell, rows)
        ]
    separator = "," if comma else "."
    return ["" if v is None else format_number(v, separator) for v in map(cell, rows)]
