"""One column of one page of insights as a piece of a column, and a column settled from its
pieces.

A page is turned into pieces the moment it is decoded: JSON numbers become a ``NumberColumn``
(checked against the bounds in bulk; float literals left as bytes by the decoder stay text until
used), strings become codes of the column's ``Words`` (each distinct text once, shared by every
page of the column), anything else stays as it came (rare: booleans, objects, a column mixing
kinds). ``settle`` makes the column of its pieces in report order exactly as
``columns.settle_column`` would settle the values: numeric when every non-empty value is a
number, numeric strings parsed, a mostly numeric column with a few texts kept as text (with
the first of them, for the warning), a number beyond the bounds refused.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import compress, count, repeat
from typing import Any

from ..records import exact
from .columnar import BIG, EMPTY, Column, NumberColumn, split_number
from .columns import settle_column
from .numbers import Number, NumberOutOfRange, check_numbers, looks_numeric, parse_number
from .words import TextColumn, Words

_NONE = type(None)
_NUMBERS = frozenset({int, Decimal, bytes, _NONE})
_TEXTS = frozenset({str, _NONE})


@dataclass
class Piece:
    """One column's values of one page: numbers, codes of the column's words, values as they
    came, or nothing (``size`` empty cells)."""

    size: int
    numbers: NumberColumn | None = None
    codes: array[int] | None = None
    raw: list[Any] | None = None
    error: NumberOutOfRange | None = None  # a number beyond the bounds, at its index here

    @property
    def kind(self) -> str:
        """ "numbers", "words", "raw" or "empty"."""
        if self.numbers is not None or self.error is not None:
            return "numbers"
        if self.codes is not None:
            return "words"
        return "raw" if self.raw is not None else "empty"


def piece(values: list[Any], words: Words) -> Piece:
    """``values`` (one column of a page) as a piece; strings become codes of ``words``; float
    literals may come as bytes (``upstream.decode``'s ``float_literals``)."""
    kinds = set(map(type, values))
    if kinds <= {_NONE}:
        return Piece(len(values))
    if kinds <= _NUMBERS:
        numbers = NumberColumn.converted(values)  # within the bounds when converted
        if numbers is None:
            if bytes in kinds:
                values = list(map(exact, values))
            try:
                check_numbers(values)
            except NumberOutOfRange as exc:
                return Piece(len(values), error=exc)
            numbers = NumberColumn.of(values)
        return Piece(len(values), numbers=numbers)
    if kinds <= _TEXTS:
        return Piece(len(values), codes=words.encode(values))
    return Piece(len(values), raw=list(map(exact, values)))


@dataclass
class SettledColumn:
    """A column's cells as the report shows them, whether they are numbers, and (for a mostly
    numeric column that is text) its first text value's row and how many there are."""

    column: Column
    numeric: bool
    stray: int | None = None
    strays: int = 0


def settle(pieces: Sequence[Piece], words: Words) -> SettledColumn:
    """The column made of ``pieces`` in order, settled as ``columns.settle_column`` settles the
    same values. ``NumberOutOfRange`` (``index``: the row) for a number beyond the bounds."""
    size = sum(p.size for p in pieces)
    kinds = {p.kind for p in pieces} - {"empty"}
    if not kinds:
        return SettledColumn(TextColumn.repeated(None, size), numeric=False)
    if kinds == {"numbers"}:
        offset = 0
        for p in pieces:
            if p.error is not None:
                p.error.index = offset + (p.error.index or 0)
                raise p.error
            offset += p.size
        parts = [p.numbers if p.numbers is not None else NumberColumn.empty(p.size) for p in pieces]
        return SettledColumn(NumberColumn.concat(parts), numeric=True)
    if kinds == {"words"}:
        codes = array("I")
        for p in pieces:
            codes += p.codes if p.codes is not None else array("I", bytes(4 * p.size))
        return _settle_words(codes, words)
    return _settle_values(_values(pieces, words))


def _settle_words(codes: array[int], words: Words) -> SettledColumn:
    """A column of strings: text, unless its distinct texts are numbers (each looked at once)."""
    numeric = [code for code, text in enumerate(words.values) if text and looks_numeric(text)]
    if not numeric:
        return SettledColumn(TextColumn(codes, words.values), numeric=False)
    parsed: dict[int, Number] = {}
    for code in numeric:
        try:
            parsed[code] = parse_number(words.values[code])  # type: ignore[assignment]
        except NumberOutOfRange as exc:
            exc.index = codes.index(code)
            raise
    if len(numeric) == len(words.values) - 1:
        return SettledColumn(_numbers_of_codes(codes, parsed), numeric=True)
    counts = Counter(codes)
    found = sum(counts[code] for code in numeric)
    others = len(codes) - found - counts[0]
    column = TextColumn(codes, words.values)
    if found <= others:
        return SettledColumn(column, numeric=False)
    numbers = set(numeric) | {0}
    stray = next(i for i, code in enumerate(codes) if code not in numbers)
    return SettledColumn(column, False, stray, others)


def _numbers_of_codes(codes: array[int], parsed: dict[int, Number]) -> NumberColumn:
    """The numbers the codes stand for (code 0: empty), looked up per cell in C."""
    top = max(parsed) + 1
    digits, scales = [0] * top, [EMPTY] * top
    big: dict[int, Number] = {}
    for code, value in parsed.items():
        split = split_number(value)
        if split is None:
            big[code] = value
            scales[code] = BIG
        else:
            digits[code], scales[code] = split
    column = NumberColumn(
        array("q", map(digits.__getitem__, codes)), array("b", map(scales.__getitem__, codes))
    )
    for code, value in big.items():
        for row in compress(count(), map(int(code).__eq__, codes)):
            column.big[row] = value
    return column


def _values(pieces: Sequence[Piece], words: Words) -> list[Any]:
    """Every value of the pieces as a Python value (the slow, general way)."""
    values: list[Any] = []
    offset = 0
    for p in pieces:
        if p.error is not None:
            p.error.index = offset + (p.error.index or 0)
            raise p.error
        if p.numbers is not None:
            values += p.numbers.cells(range(p.size))
        elif p.codes is not None:
            values += map(words.values.__getitem__, p.codes)
        elif p.raw is not None:
            values += p.raw
        else:
            values += repeat(None, p.size)
        offset += p.size
    return values


def _settle_values(values: list[Any]) -> SettledColumn:
    settled = settle_column(values)
    cells: Any = settled.cells
    column: Column = NumberColumn.of(cells) if settled.numeric else TextColumn.of(cells)
    return SettledColumn(column, settled.numeric, settled.stray, settled.strays)


# --- the ad table ------------------------------------------------------------------------------


def settle_ids(pieces: Sequence[Piece], words: Words) -> Column:
    """The ads' ``id`` values: numbers kept as numbers, text as text, mixed as text."""
    kinds = {p.kind for p in pieces} - {"empty"}
    if kinds == {"numbers"} and not any(p.error for p in pieces):
        parts = [p.numbers if p.numbers is not None else NumberColumn.empty(p.size) for p in pieces]
        return NumberColumn.concat(parts)
    if kinds <= {"words"}:
        codes = array("I")
        for p in pieces:
            codes += p.codes if p.codes is not None else array("I", bytes(4 * p.size))
        return TextColumn(codes, words.values)
    texts: list[str | None] = []
    for p in pieces:
        if p.numbers is not None:
            texts += [None if v is None else str(v) for v in p.numbers.cells(range(p.size))]
        elif p.codes is not None:
            texts += map(words.values.__getitem__, p.codes)
        elif p.raw is not None:
            texts += [None if v is None else str(v) for v in p.raw]
        else:
            texts += repeat(None, p.size)
    return TextColumn.of(texts)


def digest_piece(digest: Any, p: Piece, words: Words) -> None:
    """Add a piece's values to ``digest``, independently of the codes other pages gave their
    texts first: text by its own first appearance in the piece."""
    if p.numbers is not None:
        column = p.numbers
        digest.update(b"N%d:" % len(column))
        digest.update(column.digits.tobytes())
        digest.update(column.scales.tobytes())
        digest.update(repr(sorted(column.big.items())).encode())
    elif p.codes is not None:
        order = dict.fromkeys(p.codes)
        local = {code: index for index, code in enumerate(order)}
        digest.update(b"W%d:" % len(p.codes))
        digest.update(array("I", map(local.__getitem__, p.codes)).tobytes())
        digest.update(json.dumps([words.values[code] for code in order]).encode())
    elif p.raw is not None:
        digest.update(b"R" + repr(p.raw).encode())
    else:
        digest.update(b"E%d:" % p.size)


def numbers_piece(column: NumberColumn) -> Piece:
    """A piece of computed numbers (per-ad ratios): an empty one when none is defined."""
    if column.scales.count(EMPTY) == len(column):
        return Piece(len(column))
    return Piece(len(column), numbers=column)


def numbers_of(p: Piece) -> NumberColumn | None:
    """A piece's cells as numbers, if it holds only numbers (or nothing)."""
    if p.kind == "empty":
        return NumberColumn.empty(p.size)
    return p.numbers


__all__ = [
    "Piece",
    "SettledColumn",
    "digest_piece",
    "numbers_of",
    "numbers_piece",
    "piece",
    "settle",
    "settle_ids",
]
