"""Column storage for large tables: exact numbers as scaled integers, text dictionary-encoded.

A report of a million ads must not cost a Python object per cell (an exact ``Decimal`` is about
100 bytes, a string 50 and more, a row's list 150 more): each column is a few flat arrays.

- ``NumberColumn``: a number is ``digits × 10**-scale``, ``digits`` in an ``array('q')`` (8
  bytes) and the value's own ``scale`` in an ``array('b')`` (1 byte). ``5.50`` is (550, 2) and
  ``5.5`` is (55, 1), so every cell prints as ``numbers.format_number`` prints the exact value
  (the upstream's digits, positional, never an exponent). A scale of ``EMPTY`` is an empty
  cell; ``BIG`` marks a value whose digits do not fit 64 bits, or a negative zero (``-0.00``
  prints its sign): those few are kept exact, as Python numbers, in a dict beside.
- ``TextColumn``: each distinct text once (``values``), one code per cell (``array('I')``);
  code 0 is the empty cell.

Work per cell runs in C (``map`` over arrays, slices, ``sum``); Python code runs per column,
per chunk of rows, or per distinct value. Sums are exact: digits are aligned to one scale and
added as integers. ``Rows`` (a ``range`` or a sequence of row indices) say which cells.
"""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from decimal import Context, Decimal
from itertools import compress, count, repeat
from operator import eq, is_, lt, mul, sub, truediv
from typing import Any

from ..records import exact
from .numbers import Number, format_number
from .words import Rows, TextColumn, gather, iterate

EMPTY = -1  # the scale of an empty cell
BIG = -2  # the scale of a value kept in ``NumberColumn.big``
INT64 = 2**63
# Below this, digits / 10**scale as a float prints back exactly with ``scale`` decimals: the
# float is within half a unit of the last decimal (2**-52 relative error at most).
_FLOAT_EXACT = 2**52
_FLOAT_SCALES = 15
POW10 = [10**n for n in range(128)]
_FIXED = [f".{n}f" for n in range(_FLOAT_SCALES + 1)]
# Scaling a Decimal exactly: bounded values have at most 30 digits, sums far fewer than 100.
_EXACT = Context(prec=200, Emax=999_999, Emin=-999_999)
_NONE_TO_ZERO: dict[Any, Any] = {None: 0}
# A number written without an exponent, with 64-bit digits and at most this many decimals, is
# within the bounds of numbers.check_number (at most 19 digits, below 1e19, at least 1e-20).
_MAX_PLAIN_SCALE = 20
# Float literals at most this long (point and sign included) have 64-bit digits and at most 17
# decimals: within the bounds, and converted exactly by int() whenever that is needed.
_LAZY_CHARS = 19
_NEGATIVE_ZERO = re.compile(r"(?m)^-0\.0*$")
_AFTER = 2**63  # sorts after any row number: bisect on (row, _AFTER) finds the run holding row


def split_number(value: Number) -> tuple[int, int] | None:
    """``value`` as (digits, scale) with ``value == digits * 10**-scale`` and the scale it prints
    with; None when the digits do not fit 64 bits or the value is a negative zero. A value that
    is no finite int or Decimal is a ``ValueError``: no column holds it."""
    if type(value) is int:
        return (value, 0) if -INT64 <= value < INT64 else None
    if not (isinstance(value, Decimal) and value.is_finite()):
        raise ValueError(f"{value!r} is not a finite number")
    sign, _, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if sign and not value:
        return None  # "-0.00" prints its sign
    scale = max(0, -exponent)
    digits = int(_EXACT.scaleb(value, scale))
    return (digits, scale) if -INT64 <= digits < INT64 and scale < 128 else None


def _literal(value: Any) -> bytes:
    return value if type(value) is bytes else b"%d" % value


def join_number(digits: int, scale: int) -> Number:
    """The number ``digits × 10**-scale``: an int at scale 0, else a Decimal of that exponent."""
    if scale == 0:
        return digits
    return _EXACT.scaleb(Decimal(digits), -scale)


class NumberColumn:
    """A column of exact numbers (see the module's docstring); empty cells are None."""

    __slots__ = ("digits", "scales", "big", "printed", "_lazy", "_aligned", "_lock")

    def __init__(
        self,
        digits: array[int] | None = None,
        scales: array[int] | None = None,
        big: dict[int, Number] | None = None,
    ) -> None:
        self.digits = digits if digits is not None else array("q")
        self.scales = scales if scales is not None else array("b")
        self.big = big if big is not None else {}
        # Where the text of the cells is known already (the Decimals' own ``str``, made while
        # converting them): (first row, text of the rows from there joined by newlines), in
        # order. Printing those rows is then a split, not a conversion per cell.
        self.printed: list[tuple[int, int, str]] = []  # (first row, row after the last, text)
        # Rows whose digits and scales are still only that text (float literals, converted when
        # some sum, filter or sort first needs them: a report that only prints them never
        # does); their scales hold 1 meanwhile (each has a point, none is empty).
        self._lazy: list[tuple[int, int, str]] = []
        self._aligned: tuple[int, Sequence[int]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def empty(cls, size: int) -> NumberColumn:
        """``size`` empty cells."""
        return cls(array("q", bytes(8 * size)), array("b", [EMPTY]) * size)

    @classmethod
    def of(cls, values: Sequence[Any]) -> NumberColumn:
        """The column of ``values`` (ints, finite Decimals, float literals as bytes, None)."""
        column = cls.converted(values)
        if column is None:
            column = cls()
            for row, value in enumerate(values):  # the exact way, one value at a time
                column._append(row, value)
        return column

    @classmethod
    def converted(cls, values: Sequence[Any]) -> NumberColumn | None:
        """The column of ``values`` converted in C, or None when some value needs the exact
        way: an int beyond 64 bits, a Decimal whose ``str`` has an exponent or more than 18
        digits, a negative zero. A column it returns holds only numbers within the bounds of
        ``numbers.check_number`` (64-bit digits; no exponent in ``str``: not below 1e-6)."""
        kinds = set(map(type, values))
        empties = type(None) in kinds
        given = map(_NONE_TO_ZERO.get, values, values) if empties else values
        joined: str | None = None
        if kinds <= {int, type(None)}:
            try:
                digits = array("q", given)
            except OverflowError:
                return None
            scales = array("b", bytes(len(values)))
        elif kinds == {bytes} and max(map(len, values)) <= _LAZY_CHARS:
            # Float literals as the decoder left them, without exponent (checked just below):
            # kept as text, converted when first needed (``_ready``).
            joined = b"\n".join(values).decode("ascii")
            size = len(values)
            if "e" in joined or "E" in joined or _NEGATIVE_ZERO.search(joined):
                return None
            # A JSON float literal without exponent has one point: ``_ready`` reads the scale
            # from where it is. (Bytes come only from the decoder: no other text is taken here.)
            if joined.count(".") != size:
                return None
            column = cls(array("q", bytes(8 * size)), array("b", [1]) * size)
            column.printed.append((0, size, joined))
            column._lazy.append((0, size, joined))
            return column
        elif kinds <= {int, Decimal, type(None)} or kinds <= {int, bytes, type(None)}:
            texts: list[Any]
            if bytes in kinds:  # float literals as the decoder left them (b"5.50")
                mixed = int in kinds or empties
                texts = [_literal(v) for v in given] if mixed else list(given)
                joined = b"\n".join(texts).decode("ascii")
                plain: list[Any] = list(map(bytes.replace, texts, repeat(b"."), repeat(b"")))
                dots = list(map(bytes.find, texts, repeat(b".")))
            else:
                texts = list(map(str, given))
                joined = "\n".join(texts)
                plain = list(map(str.replace, texts, repeat("."), repeat("")))
                dots = list(map(str.find, texts, repeat(".")))
            if "E" in joined or "e" in joined:  # an exponent (a Decimal's str past 6 zeros)
                return None
            try:
                digits = array("q", map(int, plain))
                scales = array("b", map(sub, map(len, plain), dots))
            except OverflowError:
                return None
            if min(dots, default=0) < 0:  # no point: an integer
                for i in compress(count(), map(lt, dots, repeat(0))):
                    scales[i] = 0
            if max(scales, default=0) > _MAX_PLAIN_SCALE:  # maybe below the bounds' 1e-20
                return None
            if digits.count(0) and "-" in joined:
                lines = joined.split("\n")
                for i in compress(count(), map(eq, digits, repeat(0))):
                    if lines[i].startswith("-"):
                        return None  # a negative zero keeps its sign: the exact way
        else:
            return None
        if empties:
            for i in compress(count(), map(is_, values, repeat(None))):
                scales[i] = EMPTY
        column = cls(digits, scales)
        if joined is not None:  # without an exponent, a Decimal's str is format_number's text
            column.printed.append((0, len(values), joined))
        return column

    @classmethod
    def concat(cls, columns: Sequence[NumberColumn]) -> NumberColumn:
        """One column of ``columns``' cells in order: each array copied once."""
        column = cls(
            array("q", b"".join(c.digits for c in columns)),
            array("b", b"".join(c.scales for c in columns)),
        )
        offset = 0
        for c in columns:
            for row, value in c.big.items():
                column.big[offset + row] = value
            column.printed += [(offset + a, offset + b, text) for a, b, text in c.printed]
            column._lazy += [(offset + a, offset + b, text) for a, b, text in c._lazy]
            offset += len(c)
        return column

    def _append(self, row: int, value: Number | bytes | None) -> None:
        number: Number | None = exact(value)
        split = None if number is None else split_number(number)
        if split is not None:
            self.digits.append(split[0])
            self.scales.append(split[1])
            return
        self.digits.append(0)
        self.scales.append(EMPTY if number is None else BIG)
        if number is not None:
            self.big[row] = number

    def __len__(self) -> int:
        return len(self.digits)

    def _ready(self) -> None:
        """Convert the rows still held as text to digits and scales (once, for every caller)."""
        if not self._lazy:
            return
        with self._lock:
            for start, stop, text in self._lazy:
                lines = text.split("\n")
                dots = map(str.find, lines, repeat("."))
                self.digits[start:stop] = array("q", map(int, text.replace(".", "").split("\n")))
                self.scales[start:stop] = array("b", map(sub, map(len, lines), map(_after, dots)))
            self._lazy = []

    def cell(self, row: int) -> Number | None:
        """The exact value of one cell; None when empty."""
        self._ready()
        scale = self.scales[row]
        if scale >= 0:
            return join_number(self.digits[row], scale)
        return None if scale == EMPTY else self.big[row]

    def cells(self, rows: Rows) -> list[Number | None]:
        """The exact values of ``rows``' cells (ints, Decimals; None when empty)."""
        self._ready()
        return list(map(self.cell, rows))

    def texts(self, rows: Rows, separator: str = ".", empty: str | None = None) -> list[str | None]:
        """Each cell of ``rows`` as ``format_number`` prints it (``empty`` when empty), in C:
        split from the text kept while converting, or printed from the digits. The CSV's and
        the JSON's text; ``separator``: the decimal one."""
        scales = gather(self.scales, rows)
        if scales and min(scales) == max(scales) == EMPTY:  # every cell empty (a field absent)
            return [empty] * len(scales)
        out: list[str | None]
        if isinstance(rows, range) and rows.step == 1 and self.printed:
            out = []
            for start, stop, text in self._printed_between(rows.start, rows.stop):
                if text is None:
                    out += self._print(range(start, stop))
                else:
                    out += text.split("\n")[start:stop]
        else:
            out = self._print(rows)
        if not scales:
            return out
        low, high = min(scales), max(scales)
        if separator != "." and (high > 0 or low < EMPTY):  # some cell may have a point
            out = [t.replace(".", separator) for t in out]  # type: ignore[union-attr]  # all text yet
        if low <= EMPTY:
            for i in compress(count(), map(eq, scales, repeat(EMPTY))):
                out[i] = empty
        return out

    def _printed_between(self, first: int, last: int) -> Iterator[tuple[int, int, str | None]]:
        """Rows ``first``..``last`` in runs: (start, stop, None) for rows with no kept text;
        (start, stop, text) for rows within a kept text, counted from its first row."""
        at = first
        index = max(0, bisect_right(self.printed, (first, _AFTER)) - 1)
        for start, stop, text in self.printed[index:]:
            if at >= last:
                return
            if stop <= at:
                continue
            if at < start:
                yield at, min(start, last), None
                at = min(start, last)
                if at >= last:
                    return
            end = min(stop, last)
            yield at - start, end - start, text
            at = end
        if at < last:
            yield at, last, None

    def _print(self, rows: Rows) -> list[str | None]:
        """``texts`` of ``rows`` from the digits (empty cells left as some text)."""
        plain = isinstance(rows, range) and rows.step == 1
        if not plain or any(a < rows.stop and rows.start < b for a, b, _ in self._lazy):  # type: ignore[union-attr]
            self._ready()  # only when these rows are still text
        digits, scales = gather(self.digits, rows), gather(self.scales, rows)
        if not scales:
            return []
        low, high = min(scales), max(scales)
        if low >= EMPTY and high <= 0:  # integers and empty cells (0 digits, dropped later)
            return list(map(str, digits))
        if low >= EMPTY and high <= _FLOAT_SCALES and _fits_float(digits):
            places = list(map(abs, scales))  # empty cells (-1) print some text, dropped later
            values = map(truediv, digits, map(POW10.__getitem__, places))
            return list(map(format, values, map(_FIXED.__getitem__, places)))
        return ["" if v is None else format_number(v) for v in map(self.cell, rows)]

    def take(self, rows: Rows) -> NumberColumn:
        """A new column of ``rows``' cells, in that order."""
        self._ready()
        digits = array("q", gather(self.digits, rows))
        scales = array("b", gather(self.scales, rows))
        big = {}
        if self.big:
            for new, old in enumerate(iterate(rows)):
                if old in self.big:
                    big[new] = self.big[old]
        return NumberColumn(digits, scales, big)

    # -- arithmetic over aligned digits --------------------------------------------------------

    def aligned(self) -> tuple[int, Sequence[int]]:
        """(scale S, every cell's value × 10**S as an integer, 0 when empty); computed once."""
        self._ready()
        with self._lock:
            if self._aligned is None:
                self._aligned = self._align()
            return self._aligned

    def _align(self) -> tuple[int, Sequence[int]]:
        top = max([0, max(self.scales, default=0), *map(_scale_of, self.big.values())])
        if top == 0 and not self.big:
            return 0, self.digits  # every value at scale 0 already (empty cells hold 0)

        def shifted() -> Iterator[int]:
            # Empty and BIG cells hold 0 digits: their product is 0 whatever the power.
            return map(mul, self.digits, map(POW10.__getitem__, map(sub, repeat(top), self.scales)))

        values: array[int] | list[int]
        try:
            values = array("q", shifted())
        except OverflowError:
            values = list(shifted())
        if self.big:
            values = list(values)
            for row, value in self.big.items():
                values[row] = int(_EXACT.scaleb(Decimal(value), top))
        return top, values

    def total(self, rows: Rows) -> Number | None:
        """The exact sum of ``rows``' cells, printed with the most decimals among them (as
        ``sum`` of the Decimals would); None when every cell is empty."""
        self._ready()
        scales = gather(self.scales, rows)
        if not scales or scales.count(EMPTY) == len(scales):
            return None
        top, aligned = self.aligned()
        if isinstance(rows, range) and rows.step == 1:
            digits = sum(aligned[rows.start : rows.stop])
        else:
            digits = sum(map(aligned.__getitem__, rows))
        own = max(0, max(scales))
        if self.big:
            own = max([own, *(_scale_of(self.big[r]) for r in iterate(rows) if r in self.big)])
        if own < top:
            digits //= POW10[top - own]  # exact: no value here has more than ``own`` decimals
        return join_number(digits, own)

    def equal_rows(self, value: Number | None, rows: Rows | None = None) -> list[int]:
        """The rows (of ``rows``, default all) whose cell equals ``value`` as a number (``886``
        equals ``886.0``); None selects the empty cells."""
        candidates = range(len(self)) if rows is None else rows
        if value is None:
            scales = gather(self.scales, candidates)
            return list(compress(iterate(candidates), map(eq, scales, repeat(EMPTY))))
        top, aligned = self.aligned()
        target = _EXACT.scaleb(Decimal(value), top)
        if target != target.to_integral_value():
            return []  # more decimals than any cell has: no cell equals it
        wanted = int(target)
        values = gather(aligned, candidates)
        hits = list(compress(iterate(candidates), map(eq, values, repeat(wanted))))
        if wanted == 0:  # an empty cell holds 0 too
            hits = [r for r in hits if self.scales[r] != EMPTY]
        return hits

    def sort_keys(self, rows: Rows) -> list[int]:
        """Keys of ``rows``' cells that order them as numbers (meaningless for empty cells)."""
        return list(gather(self.aligned()[1], rows))

    def is_empty(self, rows: Rows) -> list[bool]:
        """Whether each cell of ``rows`` is empty."""
        return list(map(eq, gather(self.scales, rows), repeat(EMPTY)))


Column = NumberColumn | TextColumn


def _fits_float(digits: Sequence[int]) -> bool:
    return bool(digits) and min(digits) > -_FLOAT_EXACT and max(digits) < _FLOAT_EXACT


def _after(dot: int) -> int:
    return dot + 1


def _scale_of(value: Number) -> int:
    if type(value) is int:
        return 0
    exponent = value.as_tuple().exponent  # type: ignore[union-attr]
    assert isinstance(exponent, int)
    return max(0, -exponent)


__all__ = [
    "BIG",
    "EMPTY",
    "Column",
    "NumberColumn",
    "join_number",
    "split_number",
]
