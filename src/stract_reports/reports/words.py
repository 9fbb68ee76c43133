"""Text columns, dictionary-encoded: each distinct text of a column once, a code per cell.

A column of ad names, countries or statuses holds a few distinct values many times over (and at
worst one per ad, no more than the rows themselves): ``Words`` gives each distinct text a code
in order of first appearance (code 0 is the empty cell), ``TextColumn`` holds the codes in an
``array('I')`` (4 bytes a cell) and the texts once. ``Rows`` (a ``range`` or row indices) say
which cells an operation reads; ``gather`` picks them in C.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, repeat
from operator import eq
from typing import TypeAlias

Rows: TypeAlias = range | Sequence[int]


class TextColumn:
    """A column of text, each distinct value once (``values``, of which ``values[0]`` is the
    empty cell, None) and a code per cell."""

    __slots__ = ("codes", "values")

    def __init__(self, codes: array[int], values: list[str | None]) -> None:
        self.codes = codes
        self.values = values

    @classmethod
    def of(cls, values: Iterable[str | None]) -> TextColumn:
        """The column of ``values`` ("" and None are empty)."""
        words = Words()
        return cls(words.encode(list(values)), words.values)

    @classmethod
    def repeated(cls, value: str | None, size: int) -> TextColumn:
        """``size`` cells holding ``value``."""
        if value is None or value == "":
            return cls(array("I", bytes(4 * size)), [None])
        return cls(array("I", [1]) * size, [None, value])

    def __len__(self) -> int:
        return len(self.codes)

    def cell(self, row: int) -> str | None:
        """One cell's text; None when empty."""
        return self.values[self.codes[row]]

    def cells(self, rows: Rows) -> list[str | None]:
        """The text of ``rows``' cells (None when empty)."""
        return list(map(self.values.__getitem__, gather(self.codes, rows)))

    texts = cells  # text prints as it is

    def take(self, rows: Rows) -> TextColumn:
        """A new column of ``rows``' cells, in that order (sharing the distinct values)."""
        return TextColumn(array("I", gather(self.codes, rows)), self.values)

    def equal_rows(self, value: str | None, rows: Rows | None = None) -> list[int]:
        """The rows (of ``rows``, default all) whose text is exactly ``value`` (None or "":
        the empty cells)."""
        candidates = range(len(self)) if rows is None else rows
        wanted = [i for i, v in enumerate(self.values) if v == (value or None)]
        if not wanted:
            return []
        return list(
            compress(
                iterate(candidates), map(eq, gather(self.codes, candidates), repeat(wanted[0]))
            )
        )

    def sort_keys(self, rows: Rows) -> list[int]:
        """Keys of ``rows``' cells that order them as text: case-insensitively first, ties in a
        fixed order (the key of ``reports.slicing``), computed once per distinct value."""
        order = sorted(
            range(1, len(self.values)),
            key=lambda code: (str(self.values[code]).casefold(), str(self.values[code])),
        )
        rank = [0] * len(self.values)
        for position, code in enumerate(order):
            rank[code] = position
        return list(map(rank.__getitem__, gather(self.codes, rows)))

    def is_empty(self, rows: Rows) -> list[bool]:
        """Whether each cell of ``rows`` is empty."""
        return list(map(eq, gather(self.codes, rows), repeat(0)))


class Words:
    """The distinct texts of a column as they arrive, each with its code (0: the empty cell)."""

    __slots__ = ("codes", "values")

    def __init__(self) -> None:
        self.values: list[str | None] = [None]
        self.codes: dict[str | None, int] = {None: 0, "": 0}

    def encode(self, texts: Sequence[str | None]) -> array[int]:
        """The codes of ``texts`` (strings and None), new ones added."""
        codes = self.codes
        # In order of first appearance: the same rows give the same codes (and digests).
        for text in dict.fromkeys(texts):
            if text not in codes:
                codes[text] = len(self.values)
                self.values.append(text)
        return array("I", map(codes.__getitem__, texts))


def gather(values: Sequence[int], rows: Rows) -> Sequence[int]:
    """``values`` (an array) at ``rows``: a slice for a plain range, else picked one by one
    (in C)."""
    if isinstance(rows, range) and rows.step == 1:
        return values[rows.start : rows.stop]
    return list(map(values.__getitem__, rows))


def iterate(rows: Rows) -> Iterator[int]:
    """The row indices of ``rows``, in order."""
    return iter(rows)


__all__ = ["Rows", "TextColumn", "Words", "gather", "iterate"]
