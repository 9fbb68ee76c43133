"""A table held column-wise: which rows of shared columns it shows, in which order.

A report's ad table is built once (``ingest``) and shared by the requests that overlap it; each
request's slice is a ``Frame`` over the same columns: its ``selection`` (a ``range``, or the
row indices a filter kept, in the order a sort gave), and its own choice of columns. Nothing is
copied per request but that selection (4 bytes a row at most); summaries are small tables of
their own.

The operations of ``reports.slicing`` and ``build.summarize``, column-wise: ``totals`` of
groups of rows (exact sums; ratios recomputed from their summed components, or summed),
``matching`` rows (equality filters, numbers as numbers), ``ordered`` rows (numbers as numbers,
text case-insensitively, empty cells last, ties in report order).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import not_
from typing import Any

from .columnar import Column, NumberColumn, Rows, TextColumn
from .metrics import RATIOS, label_key
from .names import RatioMode
from .numbers import Number, ratio

Cell = Number | str | None
CHUNK_ROWS = 2000  # rows rendered at a time: a few hundred KB of text


@dataclass(frozen=True)
class Frame:
    """Labels in order, whether each column is numeric, the columns, and which of their rows
    this table shows (``selection``, in its order); ``warnings`` as the report carries them."""

    columns: list[str]
    numeric: list[bool]
    data: list[Column]
    selection: Rows
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of_rows(
        cls,
        columns: list[str],
        numeric: list[bool],
        rows: Sequence[Sequence[Cell]],
        warnings: list[str] | None = None,
    ) -> Frame:
        """The frame of a few rows of cells (summaries, tests): text columns hold text."""
        data: list[Column] = []
        for index, is_number in enumerate(numeric):
            cells: Any = [row[index] for row in rows]
            data.append(NumberColumn.of(cells) if is_number else TextColumn.of(cells))
        return cls(list(columns), list(numeric), data, range(len(rows)), list(warnings or []))

    def __len__(self) -> int:
        return len(self.selection)

    @property
    def rows(self) -> list[list[Cell]]:
        """Every row shown, as cells: for small tables (a page, a summary, a test)."""
        return self.cells(self.selection)

    def cells(self, rows: Rows) -> list[list[Cell]]:
        """The cells of ``rows`` (indices into the columns), row by row."""
        columns = [column.cells(rows) for column in self.data]
        return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in rows]

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Rows]:
        """The selection a few thousand rows at a time, in order."""
        for start in range(0, len(self.selection), size):
            yield self.selection[start : start + size]

    def select(self, selection: Rows) -> Frame:
        """The same columns showing ``selection`` (indices into the columns) instead."""
        return replace(self, selection=selection)

    def project(self, columns: Sequence[int]) -> Frame:
        """Only ``columns`` (positions in this frame), in that order."""
        return replace(
            self,
            columns=[self.columns[c] for c in columns],
            numeric=[self.numeric[c] for c in columns],
            data=[self.data[c] for c in columns],
        )


Group = tuple[list[Cell], Rows]  # a summary row's leading cells, and the rows it aggregates


def totals(
    frame: Frame, groups: Sequence[Group], ratios: RatioMode, columns: Sequence[int] | None = None
) -> list[list[Cell]]:
    """One row per group: its leading cells, then ``columns`` (default all) after as many of
    them, aggregated: numbers summed exactly, ratios recomputed from their summed components
    (``ratios="recompute"``: empty where the data has none) or summed, text empty."""
    chosen = list(range(len(frame.columns))) if columns is None else list(columns)
    column_of = {label_key(label): i for i, label in enumerate(frame.columns)}
    out = []
    for prefix, rows in groups:
        aggregate = [_aggregator(frame, c, ratios, column_of) for c in chosen[len(prefix) :]]
        out.append([*prefix, *(f(rows) for f in aggregate)])
    return out


def _aggregator(
    frame: Frame, index: int, ratios: RatioMode, column_of: dict[str, int]
) -> Callable[[Rows], Cell]:
    """How a summary fills column ``index`` from a group of rows (``build._aggregator``)."""
    column = frame.data[index]
    if not isinstance(column, NumberColumn):
        return lambda rows: None  # text: summaries leave it empty
    definition = RATIOS.get(label_key(frame.columns[index])) if ratios == "recompute" else None
    if definition is None:
        return column.total
    top = column_of.get(definition.numerator or "")
    bottom = column_of.get(definition.denominator or "")
    if top is None or bottom is None:
        return lambda rows: None  # a ratio with no components in the data
    numerator, denominator = frame.data[top], frame.data[bottom]
    if not (isinstance(numerator, NumberColumn) and isinstance(denominator, NumberColumn)):
        return lambda rows: None
    return lambda rows: ratio(numerator.total(rows), denominator.total(rows))


def matching(frame: Frame, filters: Sequence[tuple[int, Cell]]) -> Rows:
    """The rows of the selection whose cell in each (column, value) equals the value (numbers
    as numbers; None: the empty cells), in order."""
    rows = frame.selection
    for index, value in filters:
        rows = frame.data[index].equal_rows(value, rows)  # type: ignore[arg-type]
    return rows


def ordered(frame: Frame, index: int, descending: bool, limit: int | None = None) -> list[int]:
    """The selection ordered by column ``index``: numbers as numbers, text case-insensitively
    (ties by the text itself), equal keys in selection order, empty cells last either way; only
    the first ``limit`` are needed (a page of a large table comes from a heap)."""
    column, selection = frame.data[index], frame.selection
    keys = column.sort_keys(selection)
    empty = column.is_empty(selection)
    filled = list(compress(range(len(selection)), map(not_, empty)))
    key = keys.__getitem__
    if limit is not None and limit < len(filled):
        pick = heapq.nlargest if descending else heapq.nsmallest
        positions = pick(limit, filled, key=key)
    else:
        positions = sorted(filled, key=key, reverse=descending)
        positions += compress(range(len(selection)), empty)
    return [selection[p] for p in positions]


__all__ = ["CHUNK_ROWS", "Cell", "Frame", "Group", "matching", "ordered", "totals"]
