"""Typing one column: whether its values are numbers or text, decided from all of them, and
its cells converted accordingly.

A column is numeric when every non-empty value in it is a number (a JSON number or a numeric
string) and there is one; booleans and empties are not numbers. A column that is mostly numbers
but holds a value that is not one (``"1,234.56"``) stays text, as the upstream wrote it, and
says which value made it so (``Settled.stray``): the report warns about it. The work per cell
runs in C (``map``, ``set``) wherever the values allow it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .numbers import (
    NumberOutOfRange,
    check_numbers,
    format_number,
    looks_numeric,
    parse_number,
)
from .table import Cell


@dataclass(frozen=True)
class Settled:
    """A column's cells as the report shows them, and whether they are numbers."""

    cells: list[Cell]
    numeric: bool
    # A mostly numeric column that is text because of some values: the first of them, by
    # index, and how many there are. The report warns about it.
    stray: int | None = None
    strays: int = 0


_NONE = type(None)
_FAST_NUMBERS = {int, Decimal, _NONE}
_FAST_TEXT = {str, _NONE}
_EMPTY_IS_NONE: dict[Any, Cell] = {"": None}


def settle_column(values: list[Any]) -> Settled:
    """Decide whether a column is numeric (every non-empty value is a number, and there is
    one) and convert its values to cells accordingly: numbers (numeric text parsed), or text.

    Empty strings become None. ``NumberOutOfRange`` (with ``index``) for a number beyond the
    bounds, in any column. ``values`` may be returned as the cells.
    """
    kinds = set(map(type, values))
    if kinds <= _FAST_NUMBERS:  # JSON numbers: checked in bulk, kept as they are
        check_numbers(values)
        return Settled(values, numeric=len(kinds - {_NONE}) > 0)
    if kinds <= _FAST_TEXT:  # strings: each distinct one is looked at once
        distinct = set(values)
        has_empty = "" in distinct
        distinct.discard(None)
        distinct.discard("")
        numeric = [text for text in distinct if looks_numeric(text)]
        if not numeric:
            cells = list(map(_EMPTY_IS_NONE.get, values, values)) if has_empty else values
            return Settled(cells, numeric=False)
        parsed: dict[Any, Cell] = {None: None, "": None}
        for text in numeric:
            try:
                parsed[text] = parse_number(text)
            except NumberOutOfRange as exc:
                exc.index = values.index(text)
                raise
        if len(numeric) == len(distinct):
            return Settled(list(map(parsed.__getitem__, values)), numeric=True)
        # Text with some numeric strings (an ad named "2024"): text; a warning if mostly numbers.
        cells = list(map(_EMPTY_IS_NONE.get, values, values)) if has_empty else values
        counts = Counter(values)
        found = sum(counts[text] for text in numeric)
        others = len(values) - found - counts[None] - counts[""]
        if found <= others:
            return Settled(cells, numeric=False)
        stray = next(i for i, v in enumerate(values) if v not in parsed)
        return Settled(cells, False, stray, others)
    return _settle_slowly(values)


def _settle_slowly(values: list[Any]) -> Settled:
    """``settle_column`` for mixed columns (numbers and text, booleans, objects): per cell."""
    numbers: list[Cell] = []
    others: list[int] = []
    for index, value in enumerate(values):
        try:
            number = None if value is None or value == "" else parse_number(value)
        except NumberOutOfRange as exc:
            exc.index = index
            raise
        numbers.append(number)
        if number is None and value is not None and value != "":
            others.append(index)
    found = len(values) - numbers.count(None)
    if not others:
        return Settled(numbers, numeric=found > 0)
    cells: list[Cell] = [None if v is None or v == "" else _as_text(v) for v in values]
    if found > len(others):  # mostly numbers: say why the column is text
        return Settled(cells, False, others[0], len(others))
    return Settled(cells, numeric=False)


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    number = parse_number(value)
    return str(value) if number is None else format_number(number)
